"""`hf`: a Hugging Face `datasets` Dataset (`dataset/`, via save_to_disk) and the same rows as
`train.parquet`. The `messages` column is the conversational format TRL's SFTTrainer reads
directly; the other columns say where each row came from."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .base import Example

DATASET_DIR = "dataset"
PARQUET_FILE = "train.parquet"
META_COLUMNS = ("run_id", "attempt_id", "task_id", "task_set", "family")


class HFFormat:
    name = "hf"
    description = "Hugging Face dataset (save_to_disk) + parquet with a TRL-ready `messages` column"

    def write(self, examples: list[Example], out: Path) -> list[Path]:
        from datasets import Dataset, Features, Value

        features = Features({"messages": [{"role": Value("string"), "content": Value("string")}],
                             **{c: Value("string") for c in META_COLUMNS}})
        rows = [{"messages": ex.messages, **{c: getattr(ex, c) for c in META_COLUMNS}} for ex in examples]
        # An empty export still has its columns, so that loading it says "0 rows", not "no schema".
        ds = Dataset.from_list(rows, features=features) if rows else Dataset(features.arrow_schema.empty_table())
        target, tmp = out / DATASET_DIR, out / f".{DATASET_DIR}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        ds.save_to_disk(str(tmp), num_shards=1)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        parquet_tmp = out / f".{PARQUET_FILE}.tmp"
        ds.to_parquet(str(parquet_tmp))
        os.replace(parquet_tmp, out / PARQUET_FILE)
        return [target, out / PARQUET_FILE]
