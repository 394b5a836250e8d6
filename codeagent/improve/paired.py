"""Which eval tasks a model solves, and whether its change from the base model is more than noise.

Eval pass@1 on a few dozen tasks moves by single tasks; a table of rates alone invites reading
noise as learning. Both models are evaluated greedily on the same tasks, so the honest comparison
is paired: tasks gained and lost since the base model, and an exact two-sided sign test on those
discordant tasks (McNemar's exact test)."""

from __future__ import annotations

from pathlib import Path

from codeagent.runfolder import RunFolder
from codeagent.stats import sign_test_p
from codeagent.verify import REFERENCE, accepts

from .layout import greedy_stage


def solved_counts(run_dir: Path) -> dict[str, tuple[int, int]]:
    """task id -> (attempts, attempts the reference verifier accepts: held-out passed, no hack flag)."""
    counts: dict[str, tuple[int, int]] = {}
    for v in RunFolder(run_dir).verdicts().values():
        n, c = counts.get(v.task_id, (0, 0))
        counts[v.task_id] = (n + 1, c + accepts(v, REFERENCE))
    return counts


def greedy_outcomes(out: Path, iteration: int) -> dict[str, bool] | None:
    """Eval task id -> solved by the greedy eval of row `iteration`; None until that eval has
    finished (its `.done.json` marker), so a loop still verifying is never read half-way."""
    stage = greedy_stage(out, iteration)
    if not (stage.path.is_dir() and stage.marker.is_file()):
        return None
    return {task: correct > 0 for task, (_, correct) in solved_counts(stage.path).items()}


def greedy_solved(out: Path, iteration: int) -> set[str] | None:
    """Tasks the greedy eval of row `iteration` solved; None until that eval has finished."""
    outcomes = greedy_outcomes(out, iteration)
    return None if outcomes is None else {task for task, solved in outcomes.items() if solved}


def paired_change(before: set[str], after: set[str]) -> dict:
    """Tasks solved after but not before ('gained'), the reverse ('lost'), and the sign test."""
    gained, lost = len(after - before), len(before - after)
    return {"gained": gained, "lost": lost, "p": round(sign_test_p(gained, lost), 4)}


def versus_base(out: Path, iteration: int) -> dict | None:
    """Tasks gained and lost by row `iteration`'s model against the base model, with the sign test."""
    return changes_vs_base(out, [iteration]).get(iteration)


def changes_vs_base(out: Path, iterations: list[int]) -> dict[int, dict]:
    """iteration -> tasks gained and lost by that row's model against the base model, with the sign
    test, for each row whose greedy eval has finished (the base model's own row excluded)."""
    base = greedy_solved(out, 0)
    if base is None:
        return {}
    changes = {}
    for i in iterations:
        now = greedy_solved(out, i) if i else None
        if now is not None:
            changes[i] = paired_change(base, now)
    return changes


def compare_loops(a: Path, b: Path) -> list[dict]:
    """Two loops side by side (e.g. the generated and held-out verifier modes), per iteration: greedy
    eval tasks each solves, and those only one of them solves with the sign test."""
    rows = []
    iteration = 0
    while (solved_a := greedy_solved(a, iteration)) is not None and (solved_b := greedy_solved(b, iteration)) is not None:
        change = paired_change(solved_a, solved_b)
        rows.append({"iteration": iteration, "solved_a": len(solved_a), "solved_b": len(solved_b),
                     "only_a": change["lost"], "only_b": change["gained"], "p": change["p"]})
        iteration += 1
    return rows
