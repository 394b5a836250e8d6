"""Everything a run page shows from one run folder, read through `codeagent.runfolder.RunFolder`
(the folder's one owner). Pages use `read_run` and `part` only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codeagent.runfolder import RunFolder
from codeagent.trajectory import Attempt
from codeagent.verify.record import Verdict
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
    """The gap report: the generated verifier measured against the held-out tests."""


def read_run(run_dir: Path) -> RunView:
    run = RunFolder(run_dir)
    return RunView(path=run.path, config=run.config(), attempts=run.attempts(), verdicts=run.verdicts(),
                   generated_tests=run.generated_tests(), gap=run.gap_report())


def part(verdict: Verdict | None, verifier: str):
    """The verdict part of `verifier` (e.g. heldout, generated), or None."""
    return None if verdict is None else verdict.part(verifier)
