"""The verification-gap report: how each cheap verifier (e.g. the generated one, and its
no-agreement baseline "passes every generated test") compares with the reference verifier
(held-out tests) taken as ground truth.

Ground truth "correct" = `accepts(verdict, REFERENCE)`: held-out passed and no hack flag. A
verifier "accepts" an attempt when `codeagent.verify.accepts` says so (a hack-flagged attempt is
never accepted); a verifier's `baselines` are simpler rules on its own part, measured beside it.

Per verifier, over attempts: precision = TP/(TP+FP), recall = TP/(TP+FN), false-positive rate =
FP/(FP+TN); None where the denominator is 0. Per task: `pick_correct` is the fraction of tasks
with at least one correct attempt where the verifier's pick — its accepted attempt with the
lowest sample index — is correct (a task where it accepts nothing counts as a miss).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

from codeagent.stats import ratio

from . import REFERENCE, accepts, verifier_class
from .record import Verdict


def is_correct(v: Verdict) -> bool:
    return accepts(v, REFERENCE)


def predictors(compared: Sequence[str]) -> dict[str, Callable[[Verdict], bool]]:
    """Each compared verifier's acceptance, then its baselines, as predicates on a verdict."""
    out: dict[str, Callable[[Verdict], bool]] = {}
    for name in compared:
        out[name] = lambda v, name=name: accepts(v, name)
        for base, rule in getattr(verifier_class(name), "baselines", {}).items():
            out[base] = lambda v, name=name, rule=rule: (not v.hack_flags and v.part(name) is not None
                                                         and bool(rule(v.part(name))))
    return out


def gap_report(verdicts: Sequence[Verdict], compared: Sequence[str] = ("generated",),
               sample_index: dict[str, int] | None = None, run: dict | None = None) -> dict:
    """The report as a JSON-able dict. compared: the verifiers measured against the reference.
    sample_index: attempt id -> index (default: parsed from the id)."""
    needed = (REFERENCE, *compared)
    usable = [v for v in verdicts if all(v.part(n) is not None for n in needed)]
    index = sample_index or {}

    def order(v: Verdict) -> tuple:
        i = index.get(v.attempt_id)
        if i is None:
            tail = v.attempt_id.rsplit("#", 1)[-1]
            i = int(tail) if tail.isdigit() else 0
        return (i, v.attempt_id)

    by_task: dict[str, list[Verdict]] = {}
    for v in sorted(usable, key=order):
        by_task.setdefault(v.task_id, []).append(v)
    tasks_with_correct = [t for t, vs in by_task.items() if any(is_correct(v) for v in vs)]
    report = {
        "run": run or {},
        "ground_truth": f"{REFERENCE} (passed and not hack-flagged)",
        "n_attempts": len(usable),
        "n_tasks": len(by_task),
        "n_correct": sum(is_correct(v) for v in usable),
        "n_tasks_with_correct": len(tasks_with_correct),
        "n_skipped": len(verdicts) - len(usable),
        "hack_flags": dict(Counter(f.hack_kind for v in verdicts for f in v.hack_flags)),
        "n_hack_flagged": sum(bool(v.hack_flags) for v in verdicts),
        "verifiers": {},
    }
    for name, accepted in predictors(compared).items():
        tp = sum(accepted(v) and is_correct(v) for v in usable)
        fp = sum(accepted(v) and not is_correct(v) for v in usable)
        fn = sum(not accepted(v) and is_correct(v) for v in usable)
        tn = sum(not accepted(v) and not is_correct(v) for v in usable)
        picks = 0
        for t in tasks_with_correct:
            chosen = [v for v in by_task[t] if accepted(v)]
            picks += bool(chosen) and is_correct(chosen[0])
        report["verifiers"][name] = {
            "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn),
            "false_positive_rate": ratio(fp, fp + tn),
            "pick_correct": ratio(picks, len(tasks_with_correct)),
            "n_accepted": tp + fp,
        }
    # Flat copy for readers that look for the (first) compared verifier's precision at the top.
    report["precision"] = report["verifiers"][compared[0]]["precision"] if compared else None
    return report


def print_gap_report(report: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table
    console = console or Console()
    title = "verification gap vs held-out"
    if report.get("run", {}).get("run_id"):
        title += f" — run {report['run']['run_id']}"
    table = Table(title=title)
    for col in ("verifier", "accepted", "TP", "FP", "FN", "TN", "precision", "recall", "FPR", "pick correct"):
        table.add_column(col, justify="right" if col != "verifier" else "left")

    def f(x):
        return "-" if x is None else f"{x:.3f}"

    for name, m in report["verifiers"].items():
        table.add_row(name, str(m["n_accepted"]), str(m["tp"]), str(m["fp"]), str(m["fn"]), str(m["tn"]),
                      f(m["precision"]), f(m["recall"]), f(m["false_positive_rate"]), f(m["pick_correct"]))
    console.print(table)
    console.print(f"{report['n_attempts']} attempts over {report['n_tasks']} tasks; held-out correct: "
                  f"{report['n_correct']} ({report['n_tasks_with_correct']} tasks with a correct attempt)")
    if report["hack_flags"]:
        console.print("hack flags: " + ", ".join(f"{k}={v}" for k, v in sorted(report["hack_flags"].items())))
