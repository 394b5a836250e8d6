"""Training data in, token ids and loss labels out.

Labels: only the assistant turns are learned — their content *and* the `<|im_end|>` that closes
them. The pad token of SmolLM2 is that same EOS token, so a collator that masks padding by token
id would also mask every real EOS and the model would never learn to stop; here the labels are
built per example from character spans of the rendered chat, and padding is masked by position
(TRL's collator pads `labels` with -100 separately from `input_ids`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .config import TrainError

IGNORE = -100
ROLES = ("system", "user", "assistant")


@dataclass
class TrainingData:
    conversations: list[list[dict]]
    source: Path
    """The file or folder the conversations were read from."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.conversations, sort_keys=True).encode()).hexdigest()


def load_training_data(folder: Path) -> TrainingData:
    """Conversations from an export folder: `dataset/` (hf), `train.parquet` or `train.jsonl`."""
    folder = Path(folder)
    if not folder.exists():
        raise TrainError(f"--data {folder}: not found; make it with `codeagent export RUN_DIR --format hf --out {folder}`")
    if (folder / "dataset_info.json").is_file() or (folder / "dataset" / "dataset_info.json").is_file():
        from datasets import load_from_disk
        where = folder if (folder / "dataset_info.json").is_file() else folder / "dataset"
        rows = load_from_disk(str(where))
        return TrainingData(_validate((r.get("messages") for r in rows), where, "row"), where)
    if (folder / "train.parquet").is_file():
        from datasets import Dataset
        where = folder / "train.parquet"
        rows = Dataset.from_parquet(str(where))
        return TrainingData(_validate((r.get("messages") for r in rows), where, "row"), where)
    jsonl = folder / "train.jsonl" if folder.is_dir() else folder
    if jsonl.is_file():
        return TrainingData(_validate(_jsonl_messages(jsonl), jsonl, "line"), jsonl)
    raise TrainError(f"--data {folder}: no dataset/, train.parquet or train.jsonl in it; "
                     f"make it with `codeagent export RUN_DIR --format hf --out {folder}`")


def _jsonl_messages(path: Path):
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            try:
                record = json.loads(line)
            except ValueError as e:
                raise TrainError(f"{path}:{lineno}: not valid JSON ({e})")
            if isinstance(record, dict) and "tools" in record:
                raise TrainError(f"{path}:{lineno}: tool-calling data (`--format tools`) is for OpenAI-style "
                                 "tool fine-tuning; for `codeagent train` export with `--format hf`")
            yield record.get("messages") if isinstance(record, dict) else None


def _validate(items, where: Path, unit: str) -> list[list[dict]]:
    out = []
    for i, messages in enumerate(items):
        at = f"{where}: {unit} {i + 1 if unit == 'line' else i}"
        if not isinstance(messages, list) or not messages:
            raise TrainError(f"{at}: expected a non-empty list field 'messages'")
        clean = []
        for j, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise TrainError(f"{at}, message {j}: expected {{'role': one of {ROLES}, 'content': str}}, "
                                 f"got {m!r:.120}")
            clean.append({"role": m["role"], "content": m["content"]})
        if clean[-1]["role"] != "assistant":
            raise TrainError(f"{at}: the last message must be the assistant's (it is {clean[-1]['role']!r})")
        if next(m["role"] for m in clean if m["role"] != "system") != "user":
            raise TrainError(f"{at}: the assistant replies before any user message")
        out.append(clean)
    if not out:
        raise TrainError(f"{where}: no examples; check the export's datasheet.md for why everything was dropped")
    return out


def tokenize_conversation(tokenizer, messages: list[dict], max_length: int) -> dict | None:
    """`input_ids` and `labels` (IGNORE outside assistant turns) of one conversation, truncated
    to max_length; None when truncation leaves nothing to learn. `truncated` says if it was cut."""
    text = _render(tokenizer, messages)
    eos = tokenizer.eos_token
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], add_generation_prompt=True)
        through = _render(tokenizer, messages[:i + 1])
        if not (text.startswith(before) and text.startswith(through) and len(before) <= len(through)):
            raise TrainError("the tokenizer's chat template renders a conversation's prefix differently from "
                             "the whole conversation, so assistant turns cannot be located; use a ChatML-style "
                             "template")
        close = through.rfind(eos, len(before)) if eos else -1
        spans.append((len(before), close + len(eos) if close >= 0 else len(through)))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [tid if any(s <= start < e for s, e in spans) else IGNORE
              for tid, (start, _end) in zip(ids, enc["offset_mapping"])]
    truncated = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    if all(lab == IGNORE for lab in labels):
        return None
    return {"input_ids": ids, "labels": labels, "truncated": truncated}


def _render(tokenizer, messages: list[dict], add_generation_prompt: bool = False) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
