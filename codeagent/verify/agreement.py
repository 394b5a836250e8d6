"""Dual execution agreement (CodeT, Chen et al. 2022): rank a task's candidates by how many
other candidates pass exactly the same generated tests, and how many tests that is.

Candidates that pass the same set of tests form a cluster; its score is
`cluster size x number of tests passed`. The top cluster is accepted.

Ties: clusters tied on score are separated by the number of tests passed (agreeing on more
tests is the stronger evidence); clusters still tied are all accepted, so the decision never
depends on the order of candidates. A score of 0 accepts nothing: passing no test, or agreeing
on an empty set of tests, is no evidence of correctness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Ranked:
    accepted: bool
    tests_passed: int
    cluster_size: int
    cluster_score: float


def codet_rank(passed: Mapping[str, frozenset[str]], min_cluster_size: int = 1,
               min_tests_passed: int = 1) -> dict[str, Ranked]:
    """candidate id -> its cluster's standing, for the eligible candidates of one task.

    `passed` maps each candidate to the set of generated test names it passed. The top cluster is
    accepted only if it holds at least `min_cluster_size` candidates that pass at least
    `min_tests_passed` tests (thresholds: a lone sample agreeing with itself on one test is weak
    evidence); below them the task accepts nothing.
    """
    clusters: dict[frozenset[str], list[str]] = {}
    for cid, tests in passed.items():
        clusters.setdefault(frozenset(tests), []).append(cid)
    scored = {tests: (len(members) * len(tests), len(tests)) for tests, members in clusters.items()}
    best = max(scored.values(), default=(0, 0))
    out = {}
    for tests, members in clusters.items():
        score, n = scored[tests]
        accepted = score > 0 and (score, n) == best and len(members) >= min_cluster_size and n >= min_tests_passed
        for cid in members:
            out[cid] = Ranked(accepted=accepted, tests_passed=n, cluster_size=len(members), cluster_score=float(score))
    return out
