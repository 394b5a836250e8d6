"""The gap report on a constructed run, against hand-computed numbers; CodeT ranking rules."""

from __future__ import annotations

from codeagent.verify.agreement import codet_rank
from codeagent.verify.gap import gap_report
from codeagent.verify.record import GeneratedVerdict, HackFlag, HeldoutVerdict, Verdict


def verdict(aid: str, correct: bool, accepted: bool, passes_all: bool, hack: bool = False) -> Verdict:
    return Verdict(attempt_id=aid, task_id=aid.split("#")[0], parts={
        "heldout": HeldoutVerdict(passed=correct, n_pass=int(correct), n_total=1, per_test={}),
        "generated": GeneratedVerdict(accepted=accepted, tests_passed=0, n_tests=3, cluster_size=1,
                                      cluster_score=0.0, passes_all=passes_all)},
        hack_flags=[HackFlag("always-equal", "planted")] if hack else [])


def test_gap_report_matches_hand_computed_numbers():
    vs = [
        verdict("A#0", correct=True, accepted=True, passes_all=True),     # TP  | baseline TP
        verdict("A#1", correct=True, accepted=False, passes_all=True),    # FN  | TP
        verdict("A#2", correct=False, accepted=True, passes_all=False),   # FP  | TN
        verdict("A#3", correct=False, accepted=False, passes_all=False),  # TN  | TN
        verdict("B#0", correct=False, accepted=True, passes_all=False),   # FP  | TN
        verdict("B#1", correct=True, accepted=False, passes_all=True),    # FN  | TP
        # held-out passed but hack-flagged: not correct, and never accepted by anyone
        verdict("C#0", correct=True, accepted=True, passes_all=True, hack=True),  # TN | TN
        verdict("D#0", correct=False, accepted=False, passes_all=False),  # TN  | TN
    ]
    r = gap_report(vs)
    g, b = r["verifiers"]["generated"], r["verifiers"]["passes_all"]
    assert (g["tp"], g["fp"], g["fn"], g["tn"]) == (1, 2, 2, 3)
    assert g["precision"] == round(1 / 3, 4) and g["recall"] == round(1 / 3, 4)
    assert g["false_positive_rate"] == 0.4
    # Tasks with a correct attempt: A (pick A#0: correct), B (pick B#0: wrong) -> 1/2.
    assert g["pick_correct"] == 0.5
    assert (b["tp"], b["fp"], b["fn"], b["tn"]) == (3, 0, 0, 5)
    assert (b["precision"], b["recall"], b["false_positive_rate"], b["pick_correct"]) == (1.0, 1.0, 0.0, 1.0)
    assert r["n_correct"] == 3 and r["n_tasks_with_correct"] == 2 and r["hack_flags"] == {"always-equal": 1}
    assert r["precision"] == g["precision"]


def test_gap_report_without_denominators_says_none():
    r = gap_report([verdict("A#0", correct=False, accepted=False, passes_all=False)])
    g = r["verifiers"]["generated"]
    assert g["precision"] is None and g["recall"] is None and g["pick_correct"] is None
    assert g["false_positive_rate"] == 0.0


def test_codet_cluster_size_times_tests_wins():
    ranked = codet_rank({"r1": {"t0", "t1", "t2"}, "r2": {"t0", "t1", "t2"}, "w1": {"t0"}, "w2": {"t0"},
                         "w3": {"t0"}, "w4": {"t1", "t2"}})
    assert {c for c, r in ranked.items() if r.accepted} == {"r1", "r2"}  # 2x3=6 beats 3x1=3 and 1x2=2
    assert ranked["r1"].cluster_score == 6 and ranked["w1"].cluster_size == 3


def test_codet_ties_go_to_more_tests_then_all_tied_clusters():
    ranked = codet_rank({"a": {"t0", "t1"}, "b": {"t0", "t1"}, "c": {"t0", "t1", "t2", "t3"}})
    assert [c for c, r in ranked.items() if r.accepted] == ["c"]  # 2x2 = 1x4: more tests wins
    ranked = codet_rank({"a": {"t0"}, "b": {"t1"}})
    assert all(r.accepted for r in ranked.values())  # a true tie: both, independent of order


def test_codet_accepts_nothing_without_evidence():
    ranked = codet_rank({"a": set(), "b": set(), "c": set()})
    assert not any(r.accepted for r in ranked.values())
    assert codet_rank({}) == {}
