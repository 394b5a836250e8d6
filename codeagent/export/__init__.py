"""Training-data export: keep verified, non-hacking, decontaminated attempts and write them as
OpenAI fine-tuning JSONL (`openai`), a Hugging Face dataset + parquet (`hf`) or OpenAI tool-call
conversations (`tools`), with a datasheet next to the data.

Formats are a registry of name -> "module:class", imported only when used (`hf` needs `datasets`).
"""

from __future__ import annotations

import importlib

from codeagent.errors import unknown_name

from .base import Example, ExportError, Format

FORMATS: dict[str, str] = {
    "openai": "codeagent.export.openai:OpenAIFormat",
    "hf": "codeagent.export.hf:HFFormat",
    "tools": "codeagent.export.tools:ToolsFormat",
}


def get_format(name: str) -> Format:
    if name not in FORMATS:
        raise ExportError(str(unknown_name("export format", name, FORMATS)))
    module, _, attr = FORMATS[name].partition(":")
    return getattr(importlib.import_module(module), attr)()


def export_runs(*args, **kwargs):
    """See `codeagent.export.stage.export_runs`."""
    from .stage import export_runs as _export_runs
    return _export_runs(*args, **kwargs)


__all__ = ["FORMATS", "Example", "ExportError", "Format", "export_runs", "get_format"]
