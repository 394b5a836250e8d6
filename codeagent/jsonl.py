"""Append-only JSONL files that survive a kill: one flushed, fsynced line per record.

A kill can leave at most one torn final line. Readers here skip it; the next `JsonlAppender`
on the file cuts it off before appending. Any other line that is not JSON fails with its file and
line number.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from codeagent.errors import UserError


class JsonlError(UserError):
    """A JSONL line (not the torn tail) that is not valid JSON; the message names file and line."""


class JsonlAppender:
    """Append-only JSONL writer: each record is one flushed, fsynced line."""

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


def numbered_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, record) of a JSONL file; a torn last line is skipped, other bad lines fail."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.endswith("\n"):
                return  # torn tail of a killed writer
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except ValueError as e:
                raise JsonlError(f"{path}:{lineno}: not valid JSON ({e})") from None


def read_jsonl(path: Path) -> Iterator[dict]:
    """Records of a JSONL file written by JsonlAppender, skipping a torn last line."""
    for _, record in numbered_records(path):
        yield record


def input_records(path: Path, what: str, error: type[UserError] = UserError,
                  problems: list[str] | None = None) -> Iterator[tuple[str, dict]]:
    """(`file:line`, record) of a JSONL file a user gave us (instances, predictions), blank lines
    skipped. A line that is not a JSON object raises `error` naming its file and line, or, given
    `problems`, is reported there and skipped so the rest is still read."""
    if not Path(path).is_file():
        raise error(f"{path}: no such file; expected a JSONL file, one {what} per line")
    # Decoded line by line, so a stray non-UTF-8 byte costs that line, named, not the whole file.
    for lineno, raw in enumerate(Path(path).read_bytes().splitlines(), 1):
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            line, record, why = None, None, f"not UTF-8 text (byte {e.start + 1})"
        else:
            if not line.strip():
                continue
            why = "not a JSON object"
            try:
                record = json.loads(line)
            except ValueError:
                record = None
        if isinstance(record, dict):
            yield where, record
            continue
        message = f"{where}: {why}; each line must be one {what}"
        if problems is None:
            raise error(message)
        problems.append(message)


def write_json(path: Path, data: dict) -> None:
    """Write through a temp file and rename, so a reader never sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _drop_torn_tail(path: Path) -> None:
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        f.truncate(data.rfind(b"\n") + 1)
