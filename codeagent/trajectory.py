"""Trajectory records: one `Attempt` per agent attempt (stored by `codeagent.runfolder`).

Verifier verdicts never rewrite an attempt; they live in their own records keyed by attempt_id.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields

FORMAT_VERSION = 1
EXIT_STATUSES = ("submitted", "step-limit", "format-error", "model-error", "sandbox-error")


@dataclass
class Step:
    """One action of a multi-turn agent and what it observed."""

    action: str
    observation: str
    exit_code: int | None = None
    duration: float = 0.0


@dataclass
class Attempt:
    run_id: str
    task_id: str
    task_set: str
    split: str
    sample_index: int
    model: str
    agent: str
    agent_config: dict
    messages: list[dict] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    patch: str = ""
    exit_status: str = "submitted"
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    timings: dict = field(default_factory=dict)
    sandbox_backend: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def attempt_id(self) -> str:
        return attempt_id(self.task_id, self.sample_index)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["attempt_id"] = self.attempt_id
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Attempt":
        d = dict(d)
        d.pop("attempt_id", None)
        check_record(cls, d, FORMAT_VERSION)
        d["steps"] = [Step(**s) for s in d.get("steps", [])]
        return cls(**d)


def attempt_id(task_id: str, sample_index: int) -> str:
    return f"{task_id}#{sample_index}"


class RecordError(ValueError):
    """A stored record this version cannot read; the message says which field and why."""


def check_record(cls, d: dict, version: int) -> None:
    """Refuse, with a clear message, a record of `cls` written by a newer format or with fields
    this version does not know (a plain `cls(**d)` would fail with a bare TypeError)."""
    if not isinstance(d, dict):
        raise RecordError(f"expected a JSON object, got {type(d).__name__}")
    found = d.get("format_version", 1)
    if not isinstance(found, int) or found > version:
        raise RecordError(f"format_version {found!r} is newer than this codeagent reads ({version}); "
                          "upgrade codeagent to read it")
    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise RecordError(f"unknown field(s) {', '.join(unknown)} for format_version {found} "
                          f"(this codeagent reads format {version}); was it written by a newer codeagent?")
    missing = [f.name for f in fields(cls)
               if f.name not in d and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise RecordError(f"missing field(s) {', '.join(missing)}")
