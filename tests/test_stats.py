"""The statistics that tell an effect from noise: bootstrap intervals over tasks, the paired
difference to the base model with its tests, and the wording a report uses."""

import random
from itertools import product

import pytest

from codeagent.stats import (Interval, bootstrap_mean, describe, paired_difference, pass_rates, permutation_p,
                             recovered, verdict)


def _simulated_eval(rng: random.Random, truth: dict[str, float], samples: int) -> dict[str, float]:
    """Per-task pass rates of `samples` Bernoulli draws at each task's true rate."""
    return pass_rates({t: (samples, sum(rng.random() < p for _ in range(samples))) for t, p in truth.items()})


def test_the_paired_interval_covers_a_known_difference():
    """60 tasks of spread difficulty, 8 samples each; the new model is truly better by ~0.1 on
    average. Over 100 simulated evaluations the 95% interval holds the true mean difference of
    these tasks in about 95% of them, and excludes zero in most (the effect is resolvable)."""
    rng = random.Random(1)
    base_truth = {f"t{i}": rng.uniform(0.05, 0.8) for i in range(60)}
    new_truth = {t: min(1.0, p + rng.uniform(0.0, 0.2)) for t, p in base_truth.items()}
    true_diff = sum(new_truth[t] - base_truth[t] for t in base_truth) / len(base_truth)
    covered = resolved = 0
    for sim in range(100):
        base, new = _simulated_eval(rng, base_truth, 8), _simulated_eval(rng, new_truth, 8)
        paired = paired_difference(base, new, resamples=1000, seed=sim)
        covered += paired.diff.low <= true_diff <= paired.diff.high
        resolved += paired.verdict == "improved"
    assert 88 <= covered <= 100, covered
    assert resolved >= 80, resolved


def test_no_effect_is_within_noise_most_of_the_time():
    rng = random.Random(2)
    truth = {f"t{i}": rng.uniform(0.1, 0.9) for i in range(40)}
    calls = [paired_difference(_simulated_eval(rng, truth, 8), _simulated_eval(rng, truth, 8), resamples=1000,
                               seed=s).verdict for s in range(60)]
    assert calls.count("within noise") >= 52, calls  # ~95% expected; both wrong calls are rare


def test_bootstrap_is_deterministic_per_seed_and_brackets_the_mean():
    values = [0.0, 0.125, 0.5, 1.0, 0.25, 0.75, 0.0, 1.0]
    a, b = bootstrap_mean(values, seed=3), bootstrap_mean(values, seed=3)
    assert a == b
    assert a.estimate == pytest.approx(sum(values) / len(values))
    assert a.low < a.estimate < a.high
    assert bootstrap_mean([0.5] * 10) == Interval(0.5, 0.5, 0.5, 10)
    with pytest.raises(ValueError, match="no task"):
        bootstrap_mean([])


def test_permutation_test_on_a_constructed_case():
    # 10 tasks, each up by 0.25: only the all-up and all-down sign patterns are as extreme -> 2/1024
    assert permutation_p([0.25] * 10) == pytest.approx(2 / 1024)
    # unchanged tasks carry no information and do not dilute the test
    assert permutation_p([0.25] * 10 + [0.0] * 50) == pytest.approx(2 / 1024)
    # symmetric changes: nothing to see
    assert permutation_p([0.5, -0.5, 0.25, -0.25]) == 1.0
    assert permutation_p([]) == 1.0
    # a small case checked by enumerating the sign flips by hand
    d = [0.5, 0.25, -0.125, 0.375]
    extreme = sum(abs(sum(s * x for s, x in zip(signs, d))) >= abs(sum(d)) for signs in product((1, -1), repeat=4))
    assert permutation_p(d) == pytest.approx(extreme / 16)
    # past the exact limit it is Monte Carlo, seeded, and still near the exact answer (2^-19 here)
    assert permutation_p([0.1] * 20, seed=0) == permutation_p([0.1] * 20, seed=0) < 0.001


def test_paired_difference_on_a_constructed_case():
    base = {"a": 0.0, "b": 0.5, "c": 1.0, "d": 0.25, "only_base": 1.0}
    new = {"a": 0.5, "b": 0.5, "c": 0.75, "d": 1.0, "only_new": 0.0}
    p = paired_difference(base, new, seed=0)
    assert p.diff.n == 4  # only the tasks both evaluated
    assert p.diff.estimate == pytest.approx((0.5 + 0 - 0.25 + 0.75) / 4)
    assert (p.gained, p.lost) == (2, 1)
    assert p.sign_test_p == 1.0
    assert p.permutation_p == permutation_p([0.5, -0.25, 0.75])
    d = p.to_dict()
    assert d["verdict"] == p.verdict and d["n_tasks"] == 4 and d["low"] <= d["diff"] <= d["high"]
    with pytest.raises(ValueError, match="share no task"):
        paired_difference({"a": 1.0}, {"b": 1.0})


def test_clear_gains_and_losses_are_named_and_the_rest_is_within_noise():
    base = {f"t{i}": 0.25 for i in range(30)}
    better = {t: 0.75 for t in base}
    assert paired_difference(base, better).verdict == "improved"
    assert paired_difference(better, base).verdict == "worse"
    one_task = dict(base, t0=1.0)
    assert paired_difference(base, one_task).verdict == "within noise"


@pytest.mark.parametrize("low,high,word", [(0.01, 0.2, "improved"), (-0.2, -0.01, "worse"),
                                           (-0.05, 0.1, "within noise"), (0.0, 0.1, "within noise")])
def test_verdict_needs_the_interval_to_exclude_zero(low, high, word):
    assert verdict(Interval(0.05, low, high, 30)) == word
    assert verdict(Interval(0.05, low, high, 30), permutation_p=0.01) == word
    assert verdict(Interval(0.05, low, high, 30), permutation_p=0.2) == "within noise"


def test_a_few_tasks_never_make_an_improvement():
    """3 of 6 tasks gained: the percentile bootstrap's interval lies above zero, but three changed
    tasks cannot be told from coin flips (permutation p = 0.25), so the verdict stays 'within noise'."""
    p = paired_difference({f"t{i}": 0.0 for i in range(6)}, {f"t{i}": float(i < 3) for i in range(6)})
    assert p.diff.low > 0 and p.permutation_p == 0.25
    assert p.verdict == "within noise"


def test_the_wording_shows_the_interval():
    noisy = paired_difference({"a": 0.0, "b": 0.5, "c": 0.5}, {"a": 0.5, "b": 0.5, "c": 0.25})
    text = describe(noisy, "sampled pass@1")
    assert text.startswith("within noise: sampled pass@1 +0.083 vs base (95% CI [")
    assert "over 3 tasks; 1 tasks up, 1 down; sign test p = 1.000" in text
    clear = describe(paired_difference({f"t{i}": 0.0 for i in range(20)}, {f"t{i}": 1.0 for i in range(20)}))
    assert clear.startswith("improved: pass@1 +1.000 vs base (95% CI [+1.000, +1.000] over 20 tasks")
    assert describe(noisy.to_dict(), "x") == describe(noisy, "x")  # reads back from metrics.json


def test_recovered_share_of_the_oracle_gain():
    base = {f"t{i}": 0.0 for i in range(40)}
    oracle = {t: 1.0 if i < 20 else 0.0 for i, t in enumerate(base)}  # gains 20 tasks
    half = {t: 1.0 if i < 10 else 0.0 for i, t in enumerate(base)}  # gains 10 of those
    r = recovered(base, oracle, half)
    assert r.estimate == pytest.approx(0.5) and r.low < 0.5 < r.high and r.n == 40
    assert recovered(base, oracle, oracle) == Interval(1.0, 1.0, 1.0, 40)
    assert recovered(base, base, half) is None  # the oracle gained nothing: nothing to recover
