"""A run folder: every file it holds, who writes it, and the one place that reads and appends it.

    RUN_DIR/
      config.json            written by `run` (RunFolder.write_config); read by every later stage
      trajectories.jsonl     one Attempt per line, appended by `run` as attempts finish
      run_summary.json       counts of the whole run so far, rewritten by `run` at its end
      generated_tests.jsonl  one GeneratedTests per task, appended by `verify` (the generated verifier)
      verdicts.jsonl         one Verdict per attempt, appended by `verify`; a later line for the same
                             attempt (a re-verification) wins
      gap_report.json        the generated verifier measured against held-out tests, by `verify`
      vllm-server.log        the log of the vLLM server a `vllm:` model started (models/vllm_model.py)

Readers: `verify` (config, attempts, verdicts, generated tests), `export` (config, attempts,
verdicts, gap report), `improve` (verdicts, gap report, attempts), `compare` and `report` (verdicts).
They all go through `RunFolder`; no other module names these files.

JSONL files are append-only (`codeagent.jsonl`): a kill leaves at most one torn last line, which
every reader here skips. A line that is not a valid record fails with its file, line and what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, TypeVar

from codeagent.errors import UserError
from codeagent.jsonl import JsonlAppender, JsonlError, numbered_records, write_json
from codeagent.trajectory import Attempt, RecordError, attempt_id

R = TypeVar("R")

CONFIG_FILE = "config.json"
TRAJECTORIES_FILE = "trajectories.jsonl"
SUMMARY_FILE = "run_summary.json"
GENERATED_TESTS_FILE = "generated_tests.jsonl"
VERDICTS_FILE = "verdicts.jsonl"
GAP_REPORT_FILE = "gap_report.json"
SERVER_LOG_FILE = "vllm-server.log"

REQUIRED_CONFIG = ("task_set",)


class RunFolderError(UserError):
    """A run folder that cannot be read as asked; the message names the file (and line) and the fix."""


@dataclass(frozen=True)
class RunFolder:
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    def file(self, name: str) -> Path:
        return self.path / name

    # -- config.json ---------------------------------------------------------------------------
    def has_config(self) -> bool:
        return self.file(CONFIG_FILE).is_file()

    def config(self, required: tuple[str, ...] = REQUIRED_CONFIG) -> dict:
        """The run's config.json, checked to be a run folder written by `codeagent run`."""
        if not self.path.is_dir():
            raise RunFolderError(f"{self.path}: run dir not found; pass the --out folder of `codeagent run`")
        path = self.file(CONFIG_FILE)
        if not path.is_file():
            raise RunFolderError(f"{self.path}: not a run dir (no {CONFIG_FILE}); pass the --out folder of "
                                 "`codeagent run`")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise RunFolderError(f"{path}: not valid JSON ({e}); fix it or use a new --out") from None
        if not isinstance(config, dict):
            raise RunFolderError(f"{path}: expected a JSON object; was it written by `codeagent run`?")
        missing = [k for k in required if k not in config]
        if missing:
            raise RunFolderError(f"{path}: missing field(s) {', '.join(missing)}; was it written by `codeagent run`?")
        if "task_set" in required and not isinstance(config["task_set"], str):
            raise RunFolderError(f"{path}: field 'task_set' must be a string; was it written by `codeagent run`?")
        return config

    def write_config(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.file(CONFIG_FILE), config)

    def write_summary(self, summary: dict) -> None:
        write_json(self.file(SUMMARY_FILE), summary)

    # -- trajectories.jsonl --------------------------------------------------------------------
    def has_attempts(self) -> bool:
        return self.file(TRAJECTORIES_FILE).exists()

    def attempt_ids(self) -> set[str]:
        """Ids of the attempts written so far (cheap: records are not validated)."""
        return {d.get("attempt_id") or attempt_id(d["task_id"], d["sample_index"])
                for _, d in _records(self.file(TRAJECTORIES_FILE))}

    def attempts(self, required: bool = True) -> list[Attempt]:
        """Every attempt, in the order first written; a later line for the same attempt wins."""
        path = self.file(TRAJECTORIES_FILE)
        latest = _parse_latest(path, Attempt.from_dict, "attempt", lambda a: a.attempt_id)
        if required and not latest:
            what = f"{path}: no attempts" if path.exists() else f"{self.path}: no {TRAJECTORIES_FILE}"
            raise RunFolderError(f"{what}; run `codeagent run ... --out {self.path}` first")
        return list(latest.values())

    def attempts_writer(self) -> JsonlAppender:
        return JsonlAppender(self.file(TRAJECTORIES_FILE))

    # -- verdicts.jsonl ------------------------------------------------------------------------
    def verdicts(self) -> dict:
        """attempt_id -> Verdict (a later line for the same attempt wins)."""
        from codeagent.verify.record import Verdict
        return _parse_latest(self.file(VERDICTS_FILE), Verdict.from_dict, "verdict", lambda v: v.attempt_id,
                             fix="delete the line to re-verify")

    def verdicts_writer(self) -> JsonlAppender:
        return JsonlAppender(self.file(VERDICTS_FILE))

    # -- generated_tests.jsonl -----------------------------------------------------------------
    def generated_tests(self) -> dict:
        """task id -> GeneratedTests written by the generated verifier."""
        from codeagent.verify.testgen import GeneratedTests
        return _parse_latest(self.file(GENERATED_TESTS_FILE), GeneratedTests.from_dict, "generated-tests",
                             lambda g: g.task_id, fix="delete the line to regenerate")

    def generated_tests_writer(self) -> JsonlAppender:
        return JsonlAppender(self.file(GENERATED_TESTS_FILE))

    # -- gap_report.json -----------------------------------------------------------------------
    def gap_report(self) -> dict | None:
        path = self.file(GAP_REPORT_FILE)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise RunFolderError(f"{path}: not valid JSON ({e}); rerun `codeagent verify {self.path}`") from None

    def write_gap_report(self, report: dict) -> None:
        write_json(self.file(GAP_REPORT_FILE), report)


# -- reading records ----------------------------------------------------------------------------
def _parse_latest(path: Path, parse: Callable[[dict], R], what: str, key: Callable[[R], str],
                  fix: str = "fix or delete that line") -> dict[str, R]:
    out: dict[str, R] = {}
    for lineno, d in _records(path):
        try:
            record = parse(d)
        except (RecordError, UserError, TypeError, KeyError, AttributeError, ValueError) as e:
            raise RunFolderError(f"{path}:{lineno}: not a valid {what} record ({e}); {fix}") from None
        out[key(record)] = record
    return out


def _records(path: Path):
    try:
        yield from numbered_records(path)
    except JsonlError as e:
        raise RunFolderError(str(e)) from None
