"""`openai`: OpenAI chat fine-tuning JSONL, one `{"messages": [...]}` per line (`train.jsonl`)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .base import Example

DATA_FILE = "train.jsonl"


class OpenAIFormat:
    name = "openai"
    description = "OpenAI chat fine-tuning JSONL: {\"messages\": [system/user/assistant]} per line"

    def write(self, examples: list[Example], out: Path) -> list[Path]:
        return [write_jsonl(out / DATA_FILE, ({"messages": ex.messages} for ex in examples))]


def write_jsonl(path: Path, records) -> Path:
    """Write to a temp file and rename, so a reader never sees half a data file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
