"""Diversity of a model's solutions, to catch collapse during self-training.

Per task: how many distinct (normalised) solutions among its samples, and the mean pairwise
normalised edit distance between them (0 = all identical, 1 = nothing in common).
"""

from __future__ import annotations

import difflib
import itertools
from statistics import mean

from codeagent.codenorm import normalized_code


def normalise_code(code: str) -> str:
    """Comment- and layout-insensitive form (`codeagent.codenorm`), without its kind tag."""
    return normalized_code(code).split(":", 1)[1]


def edit_distance_ratio(a: str, b: str) -> float:
    """1 - similarity (difflib's ratio), in [0, 1]."""
    if a == b:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def diversity(solutions_by_task: dict[str, list[str]]) -> dict[str, float]:
    """{distinct_per_task, mean_pairwise_distance} averaged over tasks with >= 1 / >= 2 samples."""
    distinct, distances = [], []
    for sols in solutions_by_task.values():
        if not sols:
            continue
        distinct.append(len({normalise_code(s) for s in sols}))
        if len(sols) >= 2:
            pairs = list(itertools.combinations(sols, 2))[:45]  # bounded cost for large n
            distances.append(mean(edit_distance_ratio(a, b) for a, b in pairs))
    return {"distinct_per_task": round(mean(distinct), 3) if distinct else 0.0,
            "mean_pairwise_distance": round(mean(distances), 3) if distances else 0.0}
