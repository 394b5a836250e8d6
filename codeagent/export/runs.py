"""Reading one run dir: its config, attempts, verdicts and gap report, with errors that say
which file and line is wrong and which command produces what is missing."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from codeagent.trajectory import Attempt
from codeagent.verify.record import (GAP_REPORT_FILE, TRAJECTORIES_FILE, VERDICTS_FILE, Verdict)

from .base import ExportError

CONFIG_FILE = "config.json"
REQUIRED_CONFIG = ("task_set", "split", "model", "agent", "run_id")


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


def load_run(path: Path, verifier: str) -> RunData:
    path = Path(path)
    if not path.is_dir():
        raise ExportError(f"{path}: run dir not found")
    config = _read_config(path)
    attempts = [Attempt.from_dict(d) for d in _read_records(path / TRAJECTORIES_FILE, "trajectory")]
    if not attempts:
        raise ExportError(f"{path}: no attempts in {TRAJECTORIES_FILE}; run `codeagent run ... --out {path}` first")
    verdicts = {}
    for d in _read_records(path / VERDICTS_FILE, "verdict", required=False):
        v = Verdict.from_dict(d)
        verdicts[v.attempt_id] = v  # a later line (a re-verification) wins
    _check_verifier_ran(path, verifier, verdicts)
    gap = None
    if (path / GAP_REPORT_FILE).is_file():
        try:
            gap = json.loads((path / GAP_REPORT_FILE).read_text(encoding="utf-8"))
        except ValueError as e:
            raise ExportError(f"{path / GAP_REPORT_FILE}: not valid JSON ({e}); rerun `codeagent verify {path}`")
    return RunData(path=path, config=config, attempts=attempts, verdicts=verdicts, gap_report=gap)


def verifier_precision(gap_report: dict | None, verifier: str) -> float | None:
    """The generated verifier's measured precision (against held-out tests) from gap_report.json.

    Held-out tests are the reference, so `heldout` has none; `both` can only be as precise as
    the generated part, so its figure is reported as a lower bound by the caller.
    """
    if not gap_report or verifier == "heldout":
        return None
    for node in (gap_report, gap_report.get("generated"), gap_report.get("verifiers", {}).get("generated")):
        if isinstance(node, dict) and isinstance(node.get("precision"), (int, float)):
            return float(node["precision"])
    return None


def _read_config(path: Path) -> dict:
    file = path / CONFIG_FILE
    if not file.is_file():
        raise ExportError(f"{path}: not a run dir (no {CONFIG_FILE}); pass the --out folder of `codeagent run`")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as e:
        raise ExportError(f"{file}: not valid JSON ({e})")
    missing = [k for k in REQUIRED_CONFIG if k not in config]
    if missing:
        raise ExportError(f"{file}: missing field(s) {', '.join(missing)}; was it written by `codeagent run`?")
    return config


def _read_records(file: Path, what: str, required: bool = True) -> list[dict]:
    if not file.is_file():
        if required:
            raise ExportError(f"{file.parent}: no {file.name} (this run dir has no {what}s); "
                              f"run `codeagent run ... --out {file.parent}` first")
        return []
    out = []
    with open(file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.endswith("\n"):
                break  # the torn tail of a killed writer; JsonlAppender rewrites it
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if what == "trajectory":
                    Attempt.from_dict(record)
                else:
                    Verdict.from_dict(record)
            except (ValueError, TypeError, KeyError) as e:
                raise ExportError(f"{file}:{lineno}: not a valid {what} record ({type(e).__name__}: {e})")
            out.append(record)
    return out


def _check_verifier_ran(path: Path, verifier: str, verdicts: dict[str, Verdict]) -> None:
    needed = {"generated": ("generated",), "heldout": ("heldout",), "both": ("generated", "heldout")}[verifier]
    for part in needed:
        if not any(getattr(v, part) is not None for v in verdicts.values()):
            raise ExportError(f"{path}: no {part} verdicts in {VERDICTS_FILE} (needed by --verifier {verifier}); "
                              f"run `codeagent verify {path} --verifiers {part}` first")
