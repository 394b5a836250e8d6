"""Training speed on this machine: fp32 (the default) vs bf16 mixed precision without activation
checkpointing, same data, same steps, one run.

    python scripts/bench_train.py --data LOOP/iter_0/data [--base qwen2.5-coder-0.5b] [--steps 2]

Each setting trains a LoRA for `--steps` optimizer steps from the same base on the same export
folder (seeded: same batches in the same order) and prints seconds per step and the ratio to the
fp32 baseline measured here, plus both loss curves (bf16 autocast changes the arithmetic, so
losses agree only approximately). On CPUs with AMX / AVX-512 BF16 (`lscpu | grep amx`), bf16 is
where the speed is.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from codeagent.train.config import TrainConfig
from codeagent.train.sft import train_sft

SETTINGS = {
    "fp32 (default)": {"precision": "fp32", "activation_checkpointing": True},
    "bf16, no activation checkpointing": {"precision": "bf16", "activation_checkpointing": False},
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="an export folder (codeagent export --format hf)")
    p.add_argument("--base", default="qwen2.5-coder-0.5b")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=4)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        for name, knobs in SETTINGS.items():
            out = Path(tmp) / knobs["precision"]
            train_sft(TrainConfig(data=args.data, out=out, base=args.base, lora=True, max_steps=args.steps,
                                  batch_size=args.batch_size, progress=False, **knobs))
            log = json.loads((out / "training_log.json").read_text())
            rows.append((name, log["train_runtime_s"] / args.steps, [round(l, 4) for _, l in log["loss_curve"]]))
            shutil.rmtree(out, ignore_errors=True)
    base = rows[0][1]
    print(f"\n{args.base}, LoRA, batch {args.batch_size}, {args.steps} steps, data {args.data}")
    print("| setting | s/step | speed vs fp32 | loss per step |\n|---|---|---|---|")
    for name, per_step, losses in rows:
        print(f"| {name} | {per_step:.1f} | {base / per_step:.2f}x | {losses} |")


if __name__ == "__main__":
    main()
