"""`codeagent tasks validate` for repository tasks: with no patch every FAIL_TO_PASS test fails
and every PASS_TO_PASS test passes; with the reference fix the task is resolved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .grade import grade


def check_repo_task(task, backend: str = "auto") -> list[str]:
    """What is wrong with `task` (empty: valid)."""
    problems = []
    buggy = grade(task, "", backend=backend)
    if buggy.error:
        return [f"sandbox error: {buggy.error}"]
    if any(o == "passed" for o in buggy.fail_to_pass.values()):
        problems.append("a FAIL_TO_PASS test passes on the buggy repo: "
                        + ", ".join(n for n, o in buggy.fail_to_pass.items() if o == "passed")[:300])
    if any(o != "passed" for o in buggy.pass_to_pass.values()):
        problems.append(f"a PASS_TO_PASS test does not pass on the buggy repo: {buggy.message[:300]}")
    fixed = grade(task, task.metadata.get("reference_patch", ""), backend=backend)
    if not fixed.resolved:
        problems.append(f"the reference fix does not resolve it: {fixed.message[:300] or fixed.error}")
    return problems


def validate_repo_tasks(tasks, backend: str = "auto", workers: int = 2) -> dict[str, list[str]]:
    """task id -> problems, for the tasks that have any."""
    def safe(task) -> list[str]:
        try:
            return check_repo_task(task, backend)
        except Exception as e:  # noqa: BLE001 — reported per task; the other tasks are still checked
            return [f"sandbox error: {type(e).__name__}: {str(e)[:300]}"]

    with ThreadPoolExecutor(max(1, workers)) as pool:
        found = dict(zip([t.id for t in tasks], pool.map(safe, tasks)))
    return {k: v for k, v in found.items() if v}
