"""Generated tests against a repository attempt, as jobs of the test engine.

The `generated` verifier's tests of a repository task import the localized function from its
module (`codeagent.verify.testgen.repo_target`). Each attempt's job runs them like a held-out
repository job runs FAIL_TO_PASS / PASS_TO_PASS (`jobs.py`): a fresh sandbox holding the task's
repo, the attempt's patch applied by git, the generated test file written last (whatever the
patch put at its path is removed first), our pytest driver running it
(`codeagent.repos.grade.run_pytest`). Per-test outcomes come from the driver's report only; a
test it did not report is `not-run`. The held-out tests are not in the sandbox at all.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from codeagent.evaluation.base import TestJob, TestReport
from codeagent.codenorm import parse

GENERATED_JUDGE = "repo-generated"
GENERATED_PATH = "test_codeagent_generated.py"
"""Where the generated test file goes in the repo (the root: pytest's rootdir, on sys.path)."""
GENERATED_TIMEOUT_S = 30.0
"""Wall seconds for one attempt's generated tests (at most the task's own timeout): a few small
tests take about a second; what reaches this is a test that loops or exhausts an endless iterator."""


def _digest() -> str:
    """This module's, the grader's and the driver's source: a changed runner never reuses a cached report."""
    h = hashlib.sha256()
    for name in ("gentests.py", "grade.py", "driver.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    return h.hexdigest()[:16]


DIGEST = _digest()


def generated_job(task, patch: str, key: str, source: str) -> TestJob:
    """The job running the generated test file `source` on repository `task` patched by `patch`."""
    names = [n.name for n in parse(source).body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    timeout = min(GENERATED_TIMEOUT_S, float(task.metadata.get("timeout_s", 120)))
    return TestJob(key=key, files=dict(task.repo_files), test_files={GENERATED_PATH: source}, timeout_s=timeout,
                   judge={"kind": GENERATED_JUDGE, "patch": patch, "tests": names,
                          "ini": task.metadata.get("pytest_ini", ""), "runner": DIGEST},
                   repo_task=task)


def run_generated_job(job: TestJob, backend: str) -> TestReport:
    """Run the job in a fresh sandbox of `backend`; a harness failure is `infra_error`."""
    from codeagent.sandbox import open_sandbox

    from .grade import REPO_LIMITS
    try:
        with open_sandbox(backend, job.files, REPO_LIMITS) as box:
            return run_generated_in(box, job)
    except Exception as e:  # noqa: BLE001 — a sandbox that failed is the harness's fault, not the patch's
        return TestReport(key=job.key, passed=False, failure_kind="infra_error",
                          message=f"{type(e).__name__}: {str(e)[:400]}")


def run_generated_in(box, job: TestJob) -> TestReport:
    """The job in `box`, which holds the task's repo untouched."""
    from .grade import apply_patch, restore_pristine_tests, run_pytest
    why = apply_patch(box, job.judge["patch"])
    if why is not None:
        return TestReport(key=job.key, passed=False, failure_kind="patch-did-not-apply",
                          message=f"patch did not apply: {why}"[:2000])
    restore_pristine_tests(box, job.test_files)  # our file, over whatever the patch left at its path
    run = run_pytest(box, [GENERATED_PATH], None, job.timeout_s, ini=job.judge.get("ini", ""))
    per_test = {f"{GENERATED_PATH}::{name}": run.outcome(f"{GENERATED_PATH}::{name}") for name in job.judge["tests"]}
    outcomes = set(per_test.values())
    passed = run.error is None and not run.timed_out and bool(per_test) and outcomes == {"passed"}
    if passed:
        kind = None
    elif run.error is not None:
        kind = "infra_error"
    elif run.timed_out:
        kind = "timeout"
    elif run.collect_errors:
        kind = "runtime"  # the test file does not import against this attempt (e.g. a broken module)
    elif "failed" in outcomes:
        kind = "wrong-answer"
    else:
        kind = "runtime"
    failing = [f"{n}: {run.messages.get(n, o)}" for n, o in per_test.items() if o != "passed"]
    message = "\n".join(failing[:10] + [f"collect error {k}: {m}" for k, m in run.collect_errors.items()])
    return TestReport(key=job.key, passed=passed, per_test=per_test, failure_kind=kind,
                      message=(run.error or message)[:2000], duration=run.duration)
