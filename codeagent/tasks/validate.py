"""Validate a task set: each reference passes all its held-out tests; each bare stub fails one."""

from __future__ import annotations

from dataclasses import dataclass, field

from codeagent.evaluation.engine import TestEngine, heldout_job


@dataclass
class ValidationReport:
    n_tasks: int
    reference_failures: dict[str, str] = field(default_factory=dict)
    stub_passes: list[str] = field(default_factory=list)
    missing_reference: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.reference_failures or self.stub_passes or self.missing_reference)


def validate_tasks(tasks, backend: str = "auto", workers: int = 2) -> ValidationReport:
    report = ValidationReport(n_tasks=len(tasks))
    repo_tasks = [t for t in tasks if t.is_repository_task]
    if repo_tasks:  # graded by FAIL_TO_PASS / PASS_TO_PASS with real pytest, not the function runner
        from codeagent.repos.validate import validate_repo_tasks
        for task_id, problems in validate_repo_tasks(repo_tasks, backend, workers).items():
            report.reference_failures[task_id] = "; ".join(problems)
    jobs = []
    for t in tasks:
        if t.is_repository_task:
            continue
        if t.reference_files is None:
            report.missing_reference.append(t.id)
            continue
        jobs.append(heldout_job(t, {**t.repo_files, **t.reference_files}, f"ref:{t.id}"))
        jobs.append(heldout_job(t, t.repo_files, f"stub:{t.id}"))
    with TestEngine(backend, workers) as engine:
        for r in engine.run(jobs, progress="validate"):
            kind, _, task_id = r.key.partition(":")
            if kind == "ref" and not r.passed:
                report.reference_failures[task_id] = f"{r.failure_kind}: {r.message[:300]}"
            elif kind == "stub" and r.passed:
                report.stub_passes.append(task_id)
    return report


def print_validation(report: ValidationReport) -> None:
    print(f"{report.n_tasks} tasks validated")
    for task_id, why in report.reference_failures.items():
        print(f"  reference FAILS {task_id}: {why}")
    for task_id in report.stub_passes:
        print(f"  bare stub PASSES {task_id} (its tests cannot tell a stub from a solution)")
    for task_id in report.missing_reference:
        print(f"  no reference solution: {task_id}")
    print("ok" if report.ok else "INVALID")
