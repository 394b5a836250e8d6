"""The export stage: run dirs in, training data + datasheet out.

Order of the filters (each attempt is dropped by the first that applies, with its reason):
verdict (no verdict / hack-flagged / rejected by the chosen verifier) -> task in an evaluation
split, or (repository tasks) its source function is an evaluation task's or its library is held
out -> unusable (patch does not apply, no prompt) -> prompt shares an n-gram with an
evaluation prompt -> duplicate solution of the same task -> over the per-task cap.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from codeagent.tasks import TaskSetError, load_task_set
from codeagent.tasks.base import Task

from codeagent.progress import ProgressBar
from codeagent.verify import verifier_class

from . import get_format
from .base import Example, ExportError
from .datasheet import write_datasheet
from .decontam import Decontaminator, EvalSplit
from .examples import Unusable, build_example
from .openai import write_jsonl
from .runs import RunData, load_run, selected_verifiers, verifier_precision
from .select import dedupe_and_cap, rejection

DROPPED_FILE = "dropped.jsonl"
SELECTION_NOTES = {
    "both": "Accepted by both verifiers; precision at least that of the generated verifier.",
}


def verifier_note(selection: str) -> str:
    """What the datasheet says about the verifier(s) that chose the data."""
    if selection in SELECTION_NOTES:
        return SELECTION_NOTES[selection]
    return getattr(verifier_class(selection), "note", f"Accepted by the {selection} verifier.")


@dataclass
class ExportSummary:
    out: Path
    format: str
    verifier: str
    n_examples: int
    counts: dict[str, int]
    """Stage -> examples left after it, in filter order."""
    dropped_by_reason: dict[str, int]
    files: list[Path] = field(default_factory=list)


def export_runs(run_dirs: list[Path], verifier: str, fmt: str, out: Path, *, max_per_task: int | None = 2,
                eval_sets: list[str] | None = None, ngram: int = 13, iteration: int | None = None,
                progress: bool = True) -> ExportSummary:
    """Export the attempts of `run_dirs` accepted by `verifier` as `fmt` under `out`.

    eval_sets: `SET[:SPLIT]` strings never to train on; None means the `test` split of every
    task set the runs used (when it has one); [] means none.
    """
    selected_verifiers(verifier)  # an unknown name fails here, with the known ones
    if max_per_task is not None and max_per_task < 1:
        raise ExportError(f"--max-per-task must be at least 1, got {max_per_task}")
    if not run_dirs:
        raise ExportError("give at least one run dir")
    writer = get_format(fmt)
    runs = [load_run(Path(d), verifier) for d in run_dirs]
    tasks = _tasks_of(runs)
    splits = [EvalSplit.parse(s) for s in eval_sets] if eval_sets is not None else _default_eval_splits(runs)
    decontam = Decontaminator(splits, ngram)

    candidates: list[Example] = []
    dropped: list[tuple[RunData, str, str, str]] = []  # run, attempt id, task id, reason
    accepted: Counter = Counter()
    stage_counts = Counter()
    with ProgressBar("export: filtering attempts", sum(len(r.attempts) for r in runs), enabled=progress,
                     transient=True) as bar:
        for run in runs:
            for attempt in run.attempts:
                bar.advance()
                reason = rejection(run.verdicts.get(attempt.attempt_id), verifier)
                if reason is None:
                    accepted[attempt.task_id] += 1
                    stage_counts["accepted"] += 1
                    reason = decontam.in_eval_split(attempt.task_id)
                task = tasks.get((attempt.task_set, attempt.task_id))
                if reason is None and task is not None:
                    reason = decontam.shares_source(task)
                if reason is None:
                    stage_counts["not in an eval split"] += 1
                    if task is None:
                        reason = f"unknown-task:{attempt.task_id} not in task set {attempt.task_set}"
                    else:
                        try:
                            example = build_example(attempt, task)
                        except Unusable as e:
                            reason = str(e)
                if reason is None:
                    stage_counts["usable"] += 1
                    reason = decontam.overlap(example.prompt_text)
                if reason is None:
                    stage_counts["no n-gram overlap"] += 1
                    candidates.append(example)
                else:
                    dropped.append((run, attempt.attempt_id, attempt.task_id, reason))

    kept, more = dedupe_and_cap(candidates, max_per_task)
    by_uid = {r.run_id: r for r in runs}
    dropped += [(by_uid[ex.run_id], ex.attempt_id, ex.task_id, reason) for ex, reason in more]
    n_unique = len(candidates) - sum(1 for _, r in more if r.startswith("duplicate-of"))

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = writer.write(kept, out)
    files.append(write_jsonl(out / DROPPED_FILE, ({"run_id": r.run_id, "attempt_id": a, "task_id": t,
                                                   "reason": why} for r, a, t, why in dropped)))
    n_attempts = sum(len(r.attempts) for r in runs)
    counts = {"attempts": n_attempts,
              **{k: stage_counts[k] for k in ("accepted", "not in an eval split", "usable", "no n-gram overlap")},
              "deduplicated": n_unique, "capped (exported)": len(kept)}
    by_reason = Counter(why.split(":", 1)[0] for *_, why in dropped)
    hack_kinds = Counter(k for *_, why in dropped if why.startswith("hack-flagged:")
                         for k in why.split(":", 1)[1].split(","))
    sheet = {
        "format": fmt, "verifier": verifier, "verifier_note": verifier_note(verifier),
        "iteration": iteration, "n_examples": len(kept), "max_per_task": max_per_task,
        "runs": [_run_source(r, verifier) for r in runs],
        "eval_sets": [str(s) for s in splits], "eval_sets_default": eval_sets is None, "ngram": ngram,
        "counts": counts, "dropped_by_reason": dict(by_reason.most_common()),
        "hack_kinds": dict(hack_kinds.most_common()),
        "per_family": _per_family(runs, tasks, accepted, kept),
        "per_task": dict(sorted(Counter(ex.task_id for ex in kept).items())),
        "files": [str(p.relative_to(out)) for p in files],
    }
    files += write_datasheet(out, sheet)
    return ExportSummary(out=out, format=fmt, verifier=verifier, n_examples=len(kept), counts=counts,
                         dropped_by_reason=sheet["dropped_by_reason"], files=files)


def _tasks_of(runs: list[RunData]) -> dict[tuple[str, str], Task]:
    out = {}
    # A run's config names its set as given (a registry name or a path); attempts carry the set's
    # own name, which is what tasks are keyed by.
    for name in sorted({r.config["task_set"] for r in runs}):
        try:
            ts = load_task_set(name)
        except TaskSetError as e:
            raise ExportError(f"cannot load task set {name!r} named by the runs: {e}") from None
        out.update({(t.task_set, t.id): t for t in ts.tasks(None)})
    return out


def _default_eval_splits(runs: list[RunData]) -> list[EvalSplit]:
    splits = []
    for name in sorted({r.config["task_set"] for r in runs}):
        if "test" in load_task_set(name).splits():
            splits.append(EvalSplit(name, "test"))
    return splits


def _run_source(run: RunData, verifier: str) -> dict:
    c = run.config
    return {"path": str(run.path), "run_id": run.run_id, "task_set": c["task_set"], "split": c["split"],
            "model": c["model"], "agent": c["agent"], "attempts": len(run.attempts),
            "verdicts": len(run.verdicts), "verifier_precision": verifier_precision(run.gap_report, verifier),
            "gap_report": run.gap_report is not None}


def _per_family(runs, tasks, accepted: Counter, kept: list[Example]) -> dict[str, dict[str, int]]:
    fam = defaultdict(lambda: {"attempts": 0, "accepted": 0, "exported": 0})
    family_of = {}
    for r in runs:
        for a in r.attempts:
            task = tasks.get((a.task_set, a.task_id))
            family_of[a.task_id] = str(task.metadata.get("family") or "unknown") if task else "unknown"
            fam[family_of[a.task_id]]["attempts"] += 1
    for task_id, n in accepted.items():
        fam[family_of[task_id]]["accepted"] += n
    for ex in kept:
        fam[ex.family]["exported"] += 1
    return dict(sorted(fam.items()))
