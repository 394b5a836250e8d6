"""How report pages read a run folder: the one place, so that the run folder's own reader
(`codeagent.runfolder.RunFolder`, with verdict parts keyed by verifier name) replaces it in one
edit. Pages use `read_run` and `part` only."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from codeagent.trajectory import Attempt, read_jsonl
from codeagent.verify.record import GAP_REPORT_FILE, GENERATED_TESTS_FILE, Verdict
from codeagent.verify.testgen import GeneratedTests


@dataclass
class RunView:
    path: Path
    config: dict
    attempts: list[Attempt]
    verdicts: dict[str, Verdict]
    """attempt_id -> verdict (attempts not verified yet have none)."""
    generated_tests: dict[str, GeneratedTests]
    """task id -> the tests the model wrote for it."""
    gap: dict | None
    """gap_report.json: the generated verifier measured against the held-out tests."""


def read_run(run_dir: Path) -> RunView:
    from codeagent.verify.stage import read_attempts, read_run_config, read_verdicts
    run_dir = Path(run_dir)
    tests = {}
    for d in read_jsonl(run_dir / GENERATED_TESTS_FILE):
        tests[d["task_id"]] = GeneratedTests.from_dict(d)
    gap = run_dir / GAP_REPORT_FILE
    return RunView(path=run_dir, config=read_run_config(run_dir), attempts=read_attempts(run_dir),
                   verdicts=read_verdicts(run_dir), generated_tests=tests,
                   gap=json.loads(gap.read_text()) if gap.is_file() else None)


def part(verdict: Verdict | None, verifier: str):
    """The verdict part of `verifier` (heldout | generated), or None."""
    return None if verdict is None else getattr(verdict, verifier, None)
