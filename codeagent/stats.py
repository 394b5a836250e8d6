"""Numbers every report shares: rates rounded the same way everywhere, and the statistics that
tell an effect from noise.

Eval results are per task: a pass rate (correct samples / samples, the unbiased sampled pass@1;
a greedy attempt is one sample). Two models evaluated on the same tasks are compared task by
task (paired), so the task-to-task spread of difficulty cancels out:

- `bootstrap_mean`: the mean over tasks with a percentile interval from resampling tasks (the
  tasks are the sample we generalise from; seeded, so a report is reproducible);
- `paired_difference`: the per-task difference new - base, its mean with the same bootstrap
  interval, the exact sign test on tasks whose rate moved, and a paired permutation test (each
  task's difference flips sign at random under "no effect": exact for up to `EXACT_FLIPS`
  changed tasks, else Monte Carlo);
- `verdict` / `describe`: "improved" or "worse" only when the paired interval excludes zero (and
  the permutation test agrees), otherwise "within noise" — with the interval shown either way.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from math import comb
from typing import Mapping, Sequence

LEVEL = 0.95
RESAMPLES = 4000
EXACT_FLIPS = 16
"""Up to this many changed tasks the permutation test enumerates all 2^n sign flips."""
PERMUTATIONS = 20000


def ratio(a: int | float, b: int | float, digits: int = 4) -> float | None:
    """a / b rounded, or None when b is 0 (a rate with nothing to count is unknown, not 0)."""
    return round(a / b, digits) if b else None


def rounded(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


@dataclass(frozen=True)
class Interval:
    """An estimate with its bootstrap interval (`level`, over `n` tasks)."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = LEVEL

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict:
        return {k: rounded(v) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


def pass_rates(counts: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """task -> correct / samples (per task the unbiased estimate of pass@1); tasks with no sample left out."""
    return {t: c / n for t, (n, c) in counts.items() if n}


def bootstrap_mean(values: Sequence[float], level: float = LEVEL, resamples: int = RESAMPLES,
                   seed: int = 0) -> Interval:
    """The mean of `values` (one per task) with a percentile bootstrap interval over tasks."""
    import numpy as np
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_mean: no values (no task was evaluated)")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(x.mean()), float(low), float(high), int(x.size), level)


def sign_test_p(gained: int, lost: int) -> float:
    """Exact two-sided p-value of `gained` vs `lost` under 'each change is a coin flip'."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(gained, lost) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def permutation_p(diffs: Sequence[float], permutations: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided p-value of the paired permutation test: how often a random sign flip of each
    task's difference gives a mean at least as far from zero as the observed one."""
    import numpy as np
    d = np.asarray([x for x in diffs if x != 0], dtype=float)
    if d.size == 0:
        return 1.0
    observed = abs(d.sum()) - 1e-12  # tolerance: float sums of the same terms in another order
    if d.size <= EXACT_FLIPS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
        return float(np.mean(np.abs(signs @ d) >= observed))
    rng = np.random.default_rng(seed)
    signs = rng.choice((1.0, -1.0), size=(permutations, d.size))
    # the observed assignment counts as one of the permutations, so p is never 0
    return float((np.sum(np.abs(signs @ d) >= observed) + 1) / (permutations + 1))


@dataclass(frozen=True)
class PairedDifference:
    """new - base over the tasks both evaluated."""

    diff: Interval
    """Mean per-task difference of pass rates, with its bootstrap interval."""
    gained: int
    """Tasks whose pass rate went up."""
    lost: int
    sign_test_p: float
    permutation_p: float

    @property
    def verdict(self) -> str:
        return verdict(self.diff, self.permutation_p)

    def to_dict(self) -> dict:
        return {"diff": rounded(self.diff.estimate), "low": rounded(self.diff.low), "high": rounded(self.diff.high),
                "level": self.diff.level, "n_tasks": self.diff.n, "gained": self.gained, "lost": self.lost,
                "sign_test_p": rounded(self.sign_test_p), "permutation_p": rounded(self.permutation_p),
                "verdict": self.verdict}


def paired_difference(base: Mapping[str, float], new: Mapping[str, float], level: float = LEVEL,
                      resamples: int = RESAMPLES, seed: int = 0) -> PairedDifference:
    """Per-task rates of two models (task -> rate) compared on the tasks both have."""
    tasks = sorted(set(base) & set(new))
    if not tasks:
        raise ValueError("paired_difference: the two evaluations share no task")
    diffs = [new[t] - base[t] for t in tasks]
    return PairedDifference(diff=bootstrap_mean(diffs, level, resamples, seed),
                            gained=sum(d > 0 for d in diffs), lost=sum(d < 0 for d in diffs),
                            sign_test_p=sign_test_p(sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)),
                            permutation_p=permutation_p(diffs, seed=seed))


def verdict(diff: Interval, permutation_p: float | None = None) -> str:
    """'improved' / 'worse' only when the interval of the difference excludes zero — and, given the
    permutation test's p, only when that test agrees (p < 1 - level): on a handful of tasks the
    percentile bootstrap is too narrow (3 tasks gained of 6 give an interval above zero, while
    3 changed tasks can never reach p < 0.25), and a report must not call that an improvement."""
    agrees = permutation_p is None or permutation_p < 1 - diff.level
    if diff.low > 0 and agrees:
        return "improved"
    if diff.high < 0 and agrees:
        return "worse"
    return "within noise"


def describe(paired: PairedDifference | Mapping, what: str = "pass@1") -> str:
    """One sentence for a report, e.g. 'improved: pass@1 +0.083 vs base (95% CI [+0.021, +0.146]
    over 66 tasks; 9 tasks up, 2 down; sign test p = 0.065, permutation p = 0.012)'."""
    d = paired.to_dict() if isinstance(paired, PairedDifference) else dict(paired)
    return (f"{d['verdict']}: {what} {d['diff']:+.3f} vs base ({round(d['level'] * 100)}% CI "
            f"[{d['low']:+.3f}, {d['high']:+.3f}] over {d['n_tasks']} tasks; {d['gained']} tasks up, "
            f"{d['lost']} down; sign test p = {d['sign_test_p']:.3f}, permutation p = {d['permutation_p']:.3f})")


def recovered(base: Mapping[str, float], oracle: Mapping[str, float], candidate: Mapping[str, float],
              level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> Interval | None:
    """How much of the oracle's gain the candidate recovers: mean(candidate - base) / mean(oracle -
    base) over the tasks all three evaluated, with a bootstrap interval (tasks resampled together for
    numerator and denominator; resamples where the oracle gains nothing are left out). None when
    the oracle's own mean gain is 0 (there is nothing to recover)."""
    import numpy as np
    tasks = sorted(set(base) & set(oracle) & set(candidate))
    if not tasks:
        raise ValueError("recovered: the three evaluations share no task")
    num = np.array([candidate[t] - base[t] for t in tasks])
    den = np.array([oracle[t] - base[t] for t in tasks])
    if den.mean() == 0:
        return None
    idx = np.random.default_rng(seed).integers(0, len(tasks), size=(resamples, len(tasks)))
    n, d = num[idx].mean(axis=1), den[idx].mean(axis=1)
    ratios = n[d != 0] / d[d != 0]
    tail = (1 - level) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return Interval(float(num.mean() / den.mean()), float(low), float(high), len(tasks), level)


def mean_sd(values: Sequence[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single value: one seed has no spread)."""
    from statistics import mean, stdev
    if not values:
        raise ValueError("mean_sd: no values")
    return mean(values), (stdev(values) if len(values) > 1 else None)
