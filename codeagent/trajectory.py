"""Trajectory records: one JSON line per attempt, appended and flushed as each attempt finishes.

Verifier verdicts never rewrite this file; they live in `verdicts.jsonl` keyed by attempt_id.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

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
        d["steps"] = [Step(**s) for s in d.get("steps", [])]
        return cls(**d)


def attempt_id(task_id: str, sample_index: int) -> str:
    return f"{task_id}#{sample_index}"


class JsonlAppender:
    """Append-only JSONL writer: each record is one flushed, fsynced line.

    A kill can leave at most one torn final line; readers skip it and it is rewritten.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(self.path)
        self._f = open(self.path, "a", encoding="utf-8")

    def append(self, record: dict) -> None:
        self._f.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records of a JSONL file written by JsonlAppender, skipping a torn last line."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # torn tail of a killed writer
            if line.strip():
                yield json.loads(line)


def _drop_torn_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        cut = data.rfind(b"\n") + 1
        f.truncate(cut)
