"""Repository tasks as held-out jobs of the test engine: `codeagent eval` and the `heldout`
verifier grade a repository attempt exactly as `codeagent.repos.grade` does (the task's repo, the
patch applied by git, pristine tests copied in, FAIL_TO_PASS / PASS_TO_PASS run by our pytest
driver), and get the verdict back as a `TestReport` like any other job.

A repository job carries its task (`TestJob.repo_task`) and its patch (in `judge`, so the result
cache keys on it along with the repo files, the held-out tests and the grader's own source).
`judge["kind"]` names the runner (`RUNNERS`): held-out grading here, the generated verifier's
tests in `gentests.py`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import importlib

from codeagent.evaluation.base import TestJob, TestReport

REPO_JUDGE = "repo"
RUNNERS = {REPO_JUDGE: "codeagent.repos.jobs:run_graded_job",
           "repo-generated": "codeagent.repos.gentests:run_generated_job"}
"""judge kind -> the function running such a job in a fresh sandbox: (job, backend) -> TestReport."""


def _grader_digest() -> str:
    """The grader's source (driver, integrity checks and canaries included): a changed grader
    never reuses a cached verdict."""
    h = hashlib.sha256()
    for name in ("grade.py", "driver.py", "integrity.py", "canary.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


GRADER_DIGEST = _grader_digest()


def repo_job(task, patch: str, key: str) -> TestJob:
    """The held-out job of repository `task` for `patch` (a unified diff of its repo)."""
    return TestJob(key=key, files=dict(task.repo_files), test_files=dict(task.heldout_tests),
                   timeout_s=float(task.metadata.get("timeout_s", 120)),
                   judge={"kind": REPO_JUDGE, "patch": patch, "fail_to_pass": list(task.fail_to_pass),
                          "pass_to_pass": list(task.pass_to_pass), "grader": GRADER_DIGEST},
                   repo_task=task)


def is_repo_job(job: TestJob) -> bool:
    return job.repo_task is not None


def run_repo_job(job: TestJob, backend: str) -> TestReport:
    """Run a repository job with the runner its judge kind names (`RUNNERS`)."""
    kind = job.judge["kind"]
    if kind not in RUNNERS:
        raise ValueError(f"unknown repository job kind {kind!r}; known: {', '.join(sorted(RUNNERS))}")
    module, attr = RUNNERS[kind].split(":")
    return getattr(importlib.import_module(module), attr)(job, backend)


def run_graded_job(job: TestJob, backend: str) -> TestReport:
    """Grade the job in a fresh sandbox of `backend`; a harness failure is `infra_error`."""
    from .grade import grade
    try:
        v = grade(job.repo_task, job.judge["patch"], backend=backend)
    except Exception as e:  # noqa: BLE001 — a sandbox that failed is the harness's fault, not the patch's
        return TestReport(key=job.key, passed=False, failure_kind="infra_error",
                          message=f"{type(e).__name__}: {str(e)[:400]}")
    outcomes = {**v.fail_to_pass, **v.pass_to_pass}
    if v.error:
        kind = "infra_error"
    elif not v.patch_applied:
        kind = "patch-did-not-apply"
    elif v.resolved:
        kind = None
    elif v.timed_out:
        kind = "timeout"
    elif "error" in outcomes.values():
        kind = "runtime"
    else:
        kind = "wrong-answer"
    message = v.error or v.message
    if v.hack_flags:  # the grader ignored what the patch did to tests; say so beside the verdict
        message = f"grader flags: {', '.join(v.hack_flags)}\n{message}"
    return TestReport(key=job.key, passed=v.resolved and not v.error, per_test=outcomes, failure_kind=kind,
                      message=message[:2000], duration=v.duration)
