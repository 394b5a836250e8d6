"""codeagent train: supervised fine-tuning on exported data -> a checkpoint folder (hf:CKPT)."""

from pathlib import Path

HELP = "fine-tune a model on exported data (TRL SFT, full or LoRA, fp32 on CPU; resumable)"


def add_arguments(p) -> None:
    from codeagent.train.config import DEFAULT_BASE
    p.add_argument("--data", required=True, type=Path, help="an export folder (`codeagent export --format hf`)")
    p.add_argument("--base", default=DEFAULT_BASE, help=f"model to fine-tune: {DEFAULT_BASE} (default) or hf:PATH")
    p.add_argument("--out", required=True, type=Path,
                   help="checkpoint folder (load it as hf:OUT); a rerun resumes from OUT/checkpoints/")
    p.add_argument("--lora", action="store_true", help="train a LoRA adapter, merged into the weights on save")
    p.add_argument("--lora-r", type=int, default=16, help="LoRA rank (default 16)")
    p.add_argument("--epochs", type=float, default=2.0, help="passes over the data (default 2)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 1e-5 full, 2e-4 LoRA)")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps (overrides --epochs)")
    p.add_argument("--batch-size", type=int, default=4, help="sequences per step (default 4)")
    p.add_argument("--grad-accum", type=int, default=1, help="gradient accumulation steps (default 1)")
    p.add_argument("--max-length", type=int, default=512, help="tokens per sequence (default 512)")
    p.add_argument("--warmup", type=float, default=0.03,
                   help="warm-up: a fraction of the steps when < 1, else a number of steps (default 0.03)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--save-steps", type=int, default=50, help="checkpoint every N steps (default 50)")
    p.add_argument("--keep-checkpoints", action="store_true", help="keep OUT/checkpoints/ after the final save")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--precision", choices=["fp32", "bf16", "auto"], default="fp32",
                   help="fp32 (default), bf16 mixed precision, or auto: bf16 where the CPU/GPU computes it natively")
    p.add_argument("--no-activation-checkpointing", action="store_true",
                   help="keep activations instead of recomputing them: faster, more memory")


def run(args) -> int:
    from codeagent.train import TrainConfig, train_sft

    config = TrainConfig(data=args.data, out=args.out, base=args.base, lora=args.lora, lora_r=args.lora_r,
                         epochs=args.epochs, lr=args.lr, max_steps=args.max_steps, batch_size=args.batch_size,
                         grad_accum=args.grad_accum, max_length=args.max_length, warmup=args.warmup, seed=args.seed,
                         save_steps=args.save_steps, keep_checkpoints=args.keep_checkpoints, threads=args.threads,
                         precision=args.precision, activation_checkpointing=not args.no_activation_checkpointing)
    out = train_sft(config)
    import json
    log = json.loads((out / "training_log.json").read_text())
    curve = log["loss_curve"]
    if curve:
        print(f"trained {log['global_step']} steps: loss {curve[0][1]:.4f} -> {curve[-1][1]:.4f}")
    print(f"checkpoint: {out} (use it as --model hf:{out})")
    return 0
