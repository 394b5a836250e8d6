"""Eval figures with their uncertainty, for metrics.json and the report.

Per-task results are read back from an eval folder's finished runs (greedy: one attempt per
task; sampled: `eval.samples` attempts at the run's temperature, whose per-task pass rate is the
unbiased sampled pass@1). From them: the 95% bootstrap interval of pass@1 over tasks, and — for
a trained model — the paired difference to the base model on the same tasks with its interval,
sign and permutation tests and the verdict word (`codeagent.stats`). The primary measure is
sampled pass@1 when the loop samples, else greedy pass@1.

Computed from the run folders each time the loop (or a resume) assembles a metrics row, so a
loop folder written before these figures existed gains them on its next run.
"""

from __future__ import annotations

from pathlib import Path

from codeagent.stats import bootstrap_mean, paired_difference, pass_rates, rounded

from .layout import GREEDY_RUN, SAMPLED_RUN, StageDir
from .paired import solved_counts

MEASURES = {"greedy": "pass@1", "sampled": "sampled_pass@1"}
"""per-task record -> the metrics key of its mean."""


def per_task(folder: Path) -> dict[str, dict[str, list[int]]]:
    """{"greedy": {task: [attempts, correct]}, "sampled": {...}} of the finished eval runs in `folder`."""
    out = {}
    for name, run in (("greedy", GREEDY_RUN), ("sampled", SAMPLED_RUN)):
        stage = StageDir(Path(folder) / run)
        if stage.done() is not None:
            out[name] = {t: [n, c] for t, (n, c) in sorted(solved_counts(stage.path).items())}
    return out


def primary(figures: dict) -> str:
    """The per-task record an eval is judged by: sampled when there is one."""
    return "sampled" if figures.get("per_task", {}).get("sampled") else "greedy"


def rates(figures: dict, name: str) -> dict[str, float]:
    return pass_rates({t: tuple(nc) for t, nc in figures.get("per_task", {}).get(name, {}).items()})


def measured(figures: dict, folder: Path, base: dict | None = None, groups: dict[str, str] | None = None) -> dict:
    """`figures` of the eval in `folder` with per-task counts, the interval of each pass@1 and,
    given the base model's (measured) figures, the paired differences to it. `groups` (task id ->
    group name, e.g. what a repository task holds out: "function" or "library") adds the same
    figures per group under "by_group" when the eval's tasks fall in two groups or more."""
    figures["per_task"] = per_task(folder)
    figures["measure"] = MEASURES[primary(figures)]
    for name, key in MEASURES.items():
        values = rates(figures, name)
        if values:
            figures[f"{key}_ci"] = _interval(values)
    if base is not None:
        for name, field in (("greedy", "vs_base_greedy"), (primary(figures), "vs_base")):
            versus = _versus(rates(base, name), rates(figures, name), MEASURES[name])
            if versus:
                figures[field] = versus
    if groups:
        by_group = grouped(figures, base, groups)
        if len(by_group) > 1:
            figures["by_group"] = by_group
    return figures


def grouped(figures: dict, base: dict | None, groups: dict[str, str]) -> dict[str, dict]:
    """The primary measure per group: its mean and interval and, with `base`, the paired
    difference to the base model on that group's tasks."""
    name = primary(figures)
    key = MEASURES[name]
    mine = rates(figures, name)
    theirs = rates(base, name) if base is not None else {}
    out: dict[str, dict] = {}
    for group in sorted({groups[t] for t in mine if t in groups}):
        values = {t: r for t, r in mine.items() if groups.get(t) == group}
        row = {"n_tasks": len(values), "measure": key, key: rounded(sum(values.values()) / len(values)),
               f"{key}_ci": _interval(values)}
        versus = _versus(theirs, values, key)
        if versus:
            row["vs_base"] = versus
        out[group] = row
    return out


def _interval(rates_by_task: dict[str, float]) -> list[float]:
    """The 95% bootstrap interval over tasks of the mean rate."""
    ci = bootstrap_mean(list(rates_by_task.values()))
    return [rounded(ci.low), rounded(ci.high)]


def _versus(base: dict[str, float], mine: dict[str, float], key: str) -> dict | None:
    """The paired difference to the base model on the tasks both have (None: no task shared)."""
    if not set(mine) & set(base):
        return None
    return {"measure": key, **paired_difference(base, mine).to_dict()}
