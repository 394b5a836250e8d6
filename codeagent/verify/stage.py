"""The verify stage: attach a verdict to every attempt of a run folder, resumably.

Per chunk of tasks:
  1. candidates: each attempt's patch applied to a fresh copy of the task repo; static hack guard;
  2. one engine call for every registered verifier's jobs and the hack guard's probes (each job
     carries one kind of test file, and each verifier reads only its own jobs' reports, so
     held-out content never reaches another verifier);
  3. the dynamic hack flags, then each verifier's `judge` gives its part of the verdict;
  4. one verdict per attempt appended to the run folder.
The stage does not know any verifier by name: it asks the registry (`codeagent.verify`). A task
whose attempts all have a part from every requested verifier is skipped on rerun; what a verifier
prepared (e.g. generated tests) is reused. Last, the gap report is rewritten.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from codeagent.evaluation.base import DEFAULT_TIMEOUT_S
from codeagent.evaluation.engine import TestEngine, function_judge
from codeagent.evaluation.patching import PatchError, apply_patch
from codeagent.models.base import Model
from codeagent.progress import ProgressBar
from codeagent.runfolder import RunFolder, RunFolderError
from codeagent.trajectory import Attempt

from . import REFERENCE, verifier_class
from .base import Candidate, FollowsUp, KnowsExamples, VerifierContext, VerifyError
from .gap import gap_report
from .hacks import static_flags
from .judging import runtime_flags
from .probe import docstring_pairs, example_inputs, hardcoded_flags, probe_flags, probe_job
from .record import Verdict


@dataclass
class VerifyConfig:
    verifiers: tuple[str, ...] = ("generated", "heldout")
    """Which verifiers to run (registry names, `codeagent.verify.VERIFIERS`)."""
    model: str | None = None
    """Model spec that writes the generated tests; None: the run's own model (config.json)."""
    n_tests: int = 10
    """Most sanitized generated tests kept per task."""
    samples: int = 4
    """Replies sampled per task when generating tests."""
    concurrency: int = 32
    """Most replies decoded together when generating tests (tasks per model call: this // samples)."""
    temperature: float = 0.8
    """Sampling temperature for test generation (several different replies are the point)."""
    backend: str = "auto"
    """Sandbox backend of the test engine."""
    workers: int = 2
    """Sandboxes running jobs in parallel."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Seconds per test job."""
    cache_dir: Path | None = None
    """Content-keyed result cache of the test engine (None: the one `codeagent eval` uses)."""
    min_cluster_size: int = 1
    """Generated verifier: the accepted agreement cluster must hold at least this many candidates."""
    min_tests_passed: int = 1
    """Generated verifier: ... whose members pass at least this many generated tests."""
    mutation: str | None = None
    """Generated verifier, test adequacy by mutants of the accepted solution (`mutation.py`): None:
    off; "report": record each task's mutation score; "filter": also re-rank agreement on only the
    tests that kill a mutant, so a task whose tests kill none accepts nothing."""
    mutants: int = 8
    """Most mutants per task when `mutation` is on (each one more test job)."""
    executor: str = "local"
    """Where test batches run: `local` (threads) or `ray` (workers across a cluster)."""
    executor_options: dict = field(default_factory=dict)
    """Options of the executor, e.g. {"address": "HOST:PORT"} for `ray`."""
    chunk_tasks: int = 16
    """Tasks verified (and written) together; a kill loses at most one chunk's work."""
    progress: bool = True


@dataclass
class VerifyResult:
    run_dir: Path
    n_attempts: int
    n_verified: int
    """Attempts verified by this call (the rest were already in verdicts.jsonl)."""
    gap_report: dict | None
    timings: dict = field(default_factory=dict)


def verify_run(run_dir: Path, cfg: VerifyConfig | None = None, *, model: Model | None = None,
               engine: TestEngine | None = None) -> VerifyResult:
    """Verify every attempt of `run_dir` with `cfg.verifiers`. `model`/`engine`: use these instead of
    loading/starting one."""
    start = time.monotonic()
    run = RunFolder(run_dir)
    cfg = cfg or VerifyConfig()
    names = tuple(dict.fromkeys(cfg.verifiers))
    if not names:
        raise VerifyError("no verifiers given; use --verifiers generated,heldout (or one of them)")
    classes = {name: verifier_class(name) for name in names}  # unknown names fail here, with the known ones
    try:
        config = run.config()
        attempts = run.attempts()
        done = run.verdicts()
    except RunFolderError as e:
        raise VerifyError(str(e)) from None
    from codeagent.tasks import load_tasks, tasks_by_id
    tasks = tasks_by_id(load_tasks(config["task_set"], config.get("split")))
    unknown = sorted({a.task_id for a in attempts} - set(tasks))
    if unknown:
        raise VerifyError(f"{run.path}: {len(unknown)} attempted task id(s) not in task set "
                          f"{config['task_set']!r} (split {config.get('split')!r}), e.g. {unknown[:3]}")
    by_task: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_task.setdefault(a.task_id, []).append(a)
    todo = [t for t, items in by_task.items() if not all(_complete(done.get(a.attempt_id), names) for a in items)]

    n_todo = sum(len(by_task[t]) for t in todo)
    own_engine = engine is None and bool(todo)
    verifiers = []
    if todo:
        ctx = VerifierContext(run=run, tasks=[tasks[t] for t in todo], config=cfg, model=model,
                              model_spec=cfg.model or config.get("model"))
        verifiers = [cls.create(ctx) for cls in classes.values()]
    if own_engine:
        from codeagent.evaluation.stage import default_cache_dir
        engine = TestEngine(cfg.backend, cfg.workers, cache_dir=cfg.cache_dir or default_cache_dir(),
                            executor=cfg.executor, executor_options=cfg.executor_options)
    try:
        with ProgressBar("verify", n_todo, enabled=cfg.progress) as bar, run.verdicts_writer() as out:
            for i in range(0, len(todo), cfg.chunk_tasks):
                chunk = [(tasks[t], by_task[t]) for t in todo[i:i + cfg.chunk_tasks]]
                for verdict in _verify_chunk(chunk, engine, verifiers, cfg):
                    out.append(verdict.to_dict())
                    done[verdict.attempt_id] = verdict
                    bar.advance()
    finally:
        if own_engine:
            engine.close()

    verdicts = [done[a.attempt_id] for a in attempts if a.attempt_id in done]
    compared = [n for n in names if n != REFERENCE]
    report = None
    if compared and any(v.part(REFERENCE) for v in verdicts) and any(v.part(compared[0]) for v in verdicts):
        run_info = {k: config.get(k) for k in ("run_id", "task_set", "split", "model", "agent")}
        run_info["test_writer"] = cfg.model or config.get("model")
        report = gap_report(verdicts, compared, {a.attempt_id: a.sample_index for a in attempts}, run=run_info)
        run.write_gap_report(report)
    return VerifyResult(run_dir=run.path, n_attempts=len(attempts), n_verified=n_todo, gap_report=report,
                        timings={"wall_s": round(time.monotonic() - start, 3)})


# -- the work ----------------------------------------------------------------------------------
def make_candidate(task, attempt: Attempt) -> Candidate:
    """The attempt's patch applied to a fresh copy of the task repo, with its static hack flags."""
    files, error = None, None
    if not attempt.patch.strip():
        error = "empty patch"
    else:
        try:
            files = apply_patch(dict(task.repo_files), attempt.patch)
        except PatchError as e:
            error = str(e)
    c = Candidate(attempt_id=attempt.attempt_id, task_id=attempt.task_id, sample_index=attempt.sample_index,
                  patch=attempt.patch, files=files, patch_error=error)
    c.hack_flags = static_flags(task, attempt.patch, task.repo_files, files)
    return c


def _verify_chunk(chunk, engine: TestEngine, verifiers: list, cfg: VerifyConfig):
    cands = {task.id: [make_candidate(task, a) for a in items] for task, items in chunk}
    examples = [v for v in verifiers if isinstance(v, KnowsExamples)]

    # One engine call for the whole chunk, so its slowest job (a timeout) is waited for once.
    jobs = []
    for task, _ in chunk:
        for v in verifiers:
            jobs += v.jobs(task, cands[task.id])
        jobs += _probe_jobs(task, cands[task.id], examples, cfg.timeout_s)
    reports = {r.key: r for r in engine.run(jobs)} if jobs else {}

    for task, _ in chunk:
        for c in cands[task.id]:  # the dynamic hack guard, before any verifier judges
            c.hack_flags += probe_flags(reports.get(_probe_key(c)))
            c.hack_flags += runtime_flags(*(reports.get(k) for k in [_probe_key(c), *(v.key(c) for v in verifiers)]))
            pairs = []
            if task.entry_point:
                pairs += docstring_pairs(task.problem_statement, task.entry_point)
                for v in examples:
                    pairs += v.passed_pairs(task, c, reports)
            c.hack_flags += hardcoded_flags(task.repo_files, c.files, pairs, function_judge(task))
    # A second engine call only for verifiers whose jobs depend on the first call's results.
    more = [j for task, _ in chunk for v in verifiers if isinstance(v, FollowsUp)
            for j in v.followup_jobs(task, cands[task.id], reports)]
    if more:
        reports.update({r.key: r for r in engine.run(more)})

    for task, _ in chunk:
        parts = {v.name: v.judge(task, cands[task.id], reports) for v in verifiers}
        for c in cands[task.id]:
            timings = {}
            for v in verifiers:
                r = reports.get(v.key(c))
                if r is not None:
                    timings[f"{v.name}_s"] = round(r.duration, 3)
            if c.patch_error:
                timings["patch_error"] = c.patch_error
            yield Verdict(attempt_id=c.attempt_id, task_id=c.task_id,
                          parts={name: p[c.attempt_id] for name, p in parts.items() if c.attempt_id in p},
                          hack_flags=list(c.hack_flags), timings=timings)


def _probe_key(c: Candidate) -> str:
    return f"probe::{c.attempt_id}"


def _probe_jobs(task, candidates, examples: list, timeout_s: float):
    if not task.entry_point:
        return []
    inputs = example_inputs(task.problem_statement, task.entry_point)
    for v in examples:
        inputs += v.probe_inputs(task)
    out = []
    for c in candidates:
        if c.files is not None:
            job = probe_job(task, c.files, _probe_key(c), inputs, timeout_s)
            if job:
                out.append(job)
    return out


def _complete(v: Verdict | None, verifiers) -> bool:
    return v is not None and all(v.part(name) is not None for name in verifiers)
