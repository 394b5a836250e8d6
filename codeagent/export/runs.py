"""The run folders an export reads, as `RunData`; reading goes through `codeagent.runfolder`, and
errors say which file and line is wrong and which command produces what is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codeagent.runfolder import RunFolder, RunFolderError
from codeagent.trajectory import Attempt
from codeagent.verify import REFERENCE, Verdict, verifier_class

from .base import ExportError

REQUIRED_CONFIG = ("task_set", "split", "model", "agent", "run_id")

SELECTIONS: dict[str, tuple[str, ...]] = {"both": ("generated", "heldout")}
"""Export's names for several verifiers at once (every one must accept); any registered verifier
name also selects itself."""


def selected_verifiers(selection: str) -> tuple[str, ...]:
    """The verifier names an export's `--verifier` choice requires (unknown names fail with the known ones)."""
    names = SELECTIONS.get(selection, (selection,))
    for name in names:
        try:
            verifier_class(name)
        except Exception as e:
            raise ExportError(f"{e}; or one of: {', '.join(SELECTIONS)}") from None
    return names


@dataclass
class RunData:
    path: Path
    config: dict
    attempts: list[Attempt]
    verdicts: dict[str, Verdict]
    """attempt_id -> verdict."""
    gap_report: dict | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.config["run_id"])


def load_run(path: Path, selection: str) -> RunData:
    folder = RunFolder(path)
    try:
        config = folder.config(REQUIRED_CONFIG)
        attempts = folder.attempts()
        verdicts = folder.verdicts()
        gap = folder.gap_report()
    except RunFolderError as e:
        raise ExportError(str(e)) from None
    for name in selected_verifiers(selection):
        if not any(v.part(name) is not None for v in verdicts.values()):
            raise ExportError(f"{folder.path}: no {name} verdicts (needed by --verifier {selection}); "
                              f"run `codeagent verify {folder.path} --verifiers {name}` first")
    return RunData(path=folder.path, config=config, attempts=attempts, verdicts=verdicts, gap_report=gap)


def verifier_precision(gap_report: dict | None, selection: str) -> float | None:
    """The measured precision (against the reference verifier) of the first non-reference verifier
    of `selection`, from the gap report. The reference has none; a selection of several can only be
    as precise as its measured part, so the caller reports that figure as a lower bound."""
    measured = [n for n in SELECTIONS.get(selection, (selection,)) if n != REFERENCE]
    if not gap_report or not measured:
        return None
    for node in (gap_report.get("verifiers", {}).get(measured[0]), gap_report.get(measured[0])):
        if isinstance(node, dict) and isinstance(node.get("precision"), (int, float)):
            return float(node["precision"])
    return None
