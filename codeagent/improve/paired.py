"""Which eval tasks a model solves, and whether its change from the base model is more than noise.

Eval pass@1 on a few dozen tasks moves by single tasks; a table of rates alone invites reading
noise as learning. Both models are evaluated greedily on the same tasks, so the honest comparison
is paired: tasks gained and lost since the base model, and an exact two-sided sign test on those
discordant tasks (McNemar's exact test)."""

from __future__ import annotations

from math import comb
from pathlib import Path

from codeagent.trajectory import read_jsonl

GREEDY_RUN = "eval_greedy"


def eval_folder(out: Path, iteration: int) -> Path:
    """Where the loop in `out` evaluates the model of metrics row `iteration` (0: the base model)."""
    return Path(out) / "base" if iteration == 0 else Path(out) / f"iter_{iteration - 1}" / "eval"


def solved_counts(verdicts: Path) -> dict[str, tuple[int, int]]:
    """task id -> (attempts, attempts passing the held-out tests without a hack flag)."""
    counts: dict[str, tuple[int, int]] = {}
    for v in read_jsonl(verdicts):
        ok = bool(v["heldout"] and v["heldout"]["passed"] and not v["hack_flags"])
        n, c = counts.get(v["task_id"], (0, 0))
        counts[v["task_id"]] = (n + 1, c + ok)
    return counts


def greedy_solved(out: Path, iteration: int) -> set[str] | None:
    path = eval_folder(out, iteration) / GREEDY_RUN / "verdicts.jsonl"
    if not path.is_file():
        return None
    return {task for task, (_, correct) in solved_counts(path).items() if correct}


def sign_test_p(gained: int, lost: int) -> float:
    """Exact two-sided p-value of `gained` vs `lost` under 'each change is a coin flip'."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(gained, lost) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def versus_base(out: Path, iteration: int) -> dict | None:
    """Tasks gained and lost by row `iteration`'s model against the base model, with the sign test."""
    base, now = greedy_solved(out, 0), greedy_solved(out, iteration)
    if iteration == 0 or base is None or now is None:
        return None
    gained, lost = len(now - base), len(base - now)
    return {"gained": gained, "lost": lost, "p": round(sign_test_p(gained, lost), 4)}
