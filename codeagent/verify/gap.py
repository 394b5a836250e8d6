"""The verification-gap report: how the generated verifier (and its no-agreement baseline,
"passes every generated test") compares with held-out tests taken as ground truth.

Ground truth "correct" = held-out passed and no hack flag. A verifier "accepts" an attempt when
`Verdict.accepted_by` says so (a hack-flagged attempt is never accepted).

Per verifier, over attempts: precision = TP/(TP+FP), recall = TP/(TP+FN), false-positive rate =
FP/(FP+TN); None where the denominator is 0. Per task: `pick_correct` is the fraction of tasks
with at least one correct attempt where the verifier's pick — its accepted attempt with the
lowest sample index — is correct (a task where it accepts nothing counts as a miss).
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Sequence

from .record import Verdict

# The verifiers compared, as predicates on a verdict.
PREDICTORS: dict[str, Callable[[Verdict], bool]] = {
    "generated": lambda v: v.accepted_by("generated"),
    "passes_all": lambda v: not v.hack_flags and bool(v.generated and v.generated.passes_all),
}


def is_correct(v: Verdict) -> bool:
    return v.accepted_by("heldout")


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def gap_report(verdicts: Sequence[Verdict], sample_index: dict[str, int] | None = None,
               run: dict | None = None) -> dict:
    """The report as a JSON-able dict. `sample_index`: attempt id -> index (default: parsed from the id)."""
    usable = [v for v in verdicts if v.heldout is not None and v.generated is not None]
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
        "ground_truth": "heldout (passed and not hack-flagged)",
        "n_attempts": len(usable),
        "n_tasks": len(by_task),
        "n_correct": sum(is_correct(v) for v in usable),
        "n_tasks_with_correct": len(tasks_with_correct),
        "n_skipped": len(verdicts) - len(usable),
        "hack_flags": dict(Counter(f.hack_kind for v in verdicts for f in v.hack_flags)),
        "n_hack_flagged": sum(bool(v.hack_flags) for v in verdicts),
        "verifiers": {},
    }
    for name, accepts in PREDICTORS.items():
        tp = sum(accepts(v) and is_correct(v) for v in usable)
        fp = sum(accepts(v) and not is_correct(v) for v in usable)
        fn = sum(not accepts(v) and is_correct(v) for v in usable)
        tn = sum(not accepts(v) and not is_correct(v) for v in usable)
        picks = 0
        for t in tasks_with_correct:
            chosen = [v for v in by_task[t] if accepts(v)]
            picks += bool(chosen) and is_correct(chosen[0])
        report["verifiers"][name] = {
            "tp": tp, "fp": fp, "fn": fn, "tn": tn,
            "precision": _ratio(tp, tp + fp), "recall": _ratio(tp, tp + fn),
            "false_positive_rate": _ratio(fp, fp + tn),
            "pick_correct": _ratio(picks, len(tasks_with_correct)),
            "n_accepted": tp + fp,
        }
    # Flat copy for readers that look for the generated verifier's precision at the top.
    report["precision"] = report["verifiers"]["generated"]["precision"]
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
