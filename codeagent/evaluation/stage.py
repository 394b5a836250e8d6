"""`codeagent eval`: score a samples file against a task set's held-out tests.

Writes OUT/results.jsonl (one line per sample, appended as each finishes, so a rerun resumes)
and OUT/summary.json. Bad lines and unknown task ids are reported and skipped, not fatal.

A sample counts as passed only when its held-out tests pass and the hack judgement shared with
`codeagent verify` (`verify/judging.py`) raised no flag; `count_flagged` counts flagged samples
by their tests alone (for research on hacking itself). Samples whose verdict the harness lost
(`infra_error`) are left out of pass@k and counted in the summary.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codeagent.jsonl import JsonlAppender, read_jsonl
from codeagent.tasks import load_tasks, tasks_by_id
from codeagent.verify.judging import accepted, sample_flags

from .base import DEFAULT_TIMEOUT_S, TestReport
from .engine import TestEngine, heldout_job
from .passk import mean_pass_at_k
from .patching import PatchError
from .samples import SampleError, candidate_files, read_samples

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"


@dataclass
class EvalConfig:
    task_set: str
    samples: Path
    out: Path
    split: str | None = None
    backend: str = "auto"
    ks: tuple[int, ...] = (1, 10, 100)
    workers: int = 2
    timeout_s: float = DEFAULT_TIMEOUT_S
    cache_dir: Path | None = None
    """Content-keyed result cache shared across runs (None: ~/.cache/codeagent/eval)."""
    progress: bool = True
    executor: str = "local"
    """Where test batches run: `local` (threads) or `ray` (workers across a cluster)."""
    executor_options: dict = field(default_factory=dict)
    """Options of the executor, e.g. {"address": "HOST:PORT"} for `ray`."""
    count_flagged: bool = False
    """Count a hack-flagged sample as passed when its tests pass (research on hacking only)."""


@dataclass
class EvalSummary:
    task_set: str
    split: str | None
    n_samples: int
    n_tasks: int
    n_passed: int
    pass_at_k: dict[str, float | None]
    failure_kinds: dict[str, int]
    skipped_lines: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    n_flagged: int = 0
    """Samples with at least one hack flag (not counted as passed unless count_flagged)."""
    n_infra_error: int = 0
    """Samples whose verdict the harness lost: left out of pass@k."""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def default_cache_dir() -> Path:
    import os
    return Path(os.environ.get("CODEAGENT_CACHE", Path.home() / ".cache" / "codeagent")) / "eval"


def evaluate(cfg: EvalConfig) -> EvalSummary:
    start = time.monotonic()
    tasks = tasks_by_id(load_tasks(cfg.task_set, cfg.split))
    samples, problems = read_samples(cfg.samples)
    unknown = sorted({s.task_id for s in samples if s.task_id not in tasks})
    if unknown:
        problems.append(f"{cfg.samples}: {len(unknown)} unknown task id(s) skipped, e.g. {unknown[:3]}")
        samples = [s for s in samples if s.task_id in tasks]
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS_FILE
    done = {(r["task_id"], r["sample_index"]): r for r in read_jsonl(results_path)}
    writer = JsonlAppender(results_path)
    lock = threading.Lock()

    def record(task_id: str, index: int, report: TestReport, flags: list | None = None) -> None:
        row = {"task_id": task_id, "sample_index": index, **report.to_dict()}
        row.pop("key")
        flags = flags or []
        row["tests_passed"] = report.passed
        row["hack_flags"] = [asdict(f) for f in flags]
        row["passed"] = accepted(report, flags) or (cfg.count_flagged and report.passed)
        with lock:
            writer.append(row)
            done[(task_id, index)] = row

    jobs, where, patches = [], {}, {}
    for s in samples:
        if (s.task_id, s.index) in done:
            continue
        key = f"{s.task_id}#{s.index}"
        try:
            files = candidate_files(tasks[s.task_id], s)
        except (PatchError, SampleError) as e:
            record(s.task_id, s.index, TestReport(key=key, passed=False, failure_kind="patch-did-not-apply",
                                                   message=str(e)))
            continue
        jobs.append(heldout_job(tasks[s.task_id], files, key, cfg.timeout_s,
                                patch=s.content if s.kind == "patch" else None))
        where[key] = (s.task_id, s.index)
        patches[key] = (tasks[s.task_id], files, s.content if s.kind == "patch" else None)

    def judged(report: TestReport) -> None:
        task, files, patch = patches[report.key]
        record(*where[report.key], report, sample_flags(task, files, report, patch))

    try:
        if jobs:
            with TestEngine(cfg.backend, cfg.workers, cache_dir=cfg.cache_dir or default_cache_dir(),
                            executor=cfg.executor, executor_options=cfg.executor_options) as engine:
                engine.run(jobs, progress="eval" if cfg.progress else None,
                           on_report=judged)
    finally:
        writer.close()

    rows = [done[(s.task_id, s.index)] for s in samples if (s.task_id, s.index) in done]
    counts: dict[str, tuple[int, int]] = {}
    for r in rows:
        if r["failure_kind"] == "infra_error":
            continue  # the harness lost this verdict: neither a pass nor a failure of the sample
        n, c = counts.get(r["task_id"], (0, 0))
        counts[r["task_id"]] = (n + 1, c + int(r["passed"]))
    summary = EvalSummary(
        task_set=cfg.task_set, split=cfg.split, n_samples=len(rows), n_tasks=len(counts),
        n_passed=sum(r["passed"] for r in rows),
        pass_at_k={f"pass@{k}": mean_pass_at_k(counts, k) for k in cfg.ks},
        failure_kinds=dict(Counter(r["failure_kind"] for r in rows if r["failure_kind"])),
        skipped_lines=problems, wall_s=round(time.monotonic() - start, 3),
        n_flagged=sum(bool(r.get("hack_flags")) for r in rows),
        n_infra_error=sum(r["failure_kind"] == "infra_error" for r in rows))
    (out / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=2))
    return summary


def print_summary(summary: EvalSummary) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"eval: {summary.task_set}" + (f" [{summary.split}]" if summary.split else ""))
    for col in ("samples", "tasks", "passed", *summary.pass_at_k, "wall s"):
        table.add_column(col, justify="right")
    table.add_row(str(summary.n_samples), str(summary.n_tasks), str(summary.n_passed),
                  *("-" if v is None else f"{v:.3f}" for v in summary.pass_at_k.values()), f"{summary.wall_s:.1f}")
    console = Console()
    console.print(table)
    if summary.n_flagged or summary.n_infra_error:
        console.print(f"hack-flagged: {summary.n_flagged} (not counted as passed); "
                      f"lost by the harness (left out of pass@k): {summary.n_infra_error}")
    if summary.failure_kinds:
        console.print("failures: " + ", ".join(f"{k}={v}" for k, v in sorted(summary.failure_kinds.items())))
