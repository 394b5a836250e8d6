"""codeagent improve: the self-improvement loop."""

from pathlib import Path

HELP = "run the self-improvement loop (expert iteration): run -> verify -> export -> train -> eval, K times"


def add_arguments(p) -> None:
    from codeagent.improve.config import PRESETS
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="quick: ~15 min on 2 CPU cores (a family-balanced slice); full: the whole set, GPU-sized; "
                        "full-cpu: the whole set sized for 2 CPU cores")
    p.add_argument("--task-set", help="train split source (default pyfuncs)")
    p.add_argument("--eval-set", help="eval split source (default: the same set's test split)")
    p.add_argument("--model", help="base model spec (default smollm2-135m)")
    p.add_argument("--iterations", type=int)
    p.add_argument("--samples", type=int, help="attempts per train task per iteration")
    p.add_argument("--verifier", choices=["generated", "heldout"],
                   help="chooses training data: generated (no human labels) or heldout (oracle upper bound)")
    p.add_argument("--train-tasks", type=int, help="first N train tasks (family-balanced)")
    p.add_argument("--eval-tasks", type=int, help="first N eval tasks (family-balanced)")
    p.add_argument("--eval-samples", type=int, help="sampled attempts per eval task for pass@k (0: greedy only)")
    p.add_argument("--continue-from-previous", action="store_true", default=None,
                   help="train model_{i+1} from model_i (default: from the base on all data so far)")
    p.add_argument("--full-finetune", action="store_true", default=None, help="full fine-tune instead of LoRA")
    p.add_argument("--max-steps", type=int, help="training steps per iteration")
    p.add_argument("--lr", type=float)
    p.add_argument("--backend", choices=["auto", "docker", "local"])
    p.add_argument("--concurrency", type=int, help="attempts in flight, i.e. sequences decoded together")
    p.add_argument("--workers", type=int, help="sandboxes running tests in parallel")
    p.add_argument("--seed", type=int)
    p.add_argument("--engine", choices=["hf", "vllm"],
                   help="sampling engine: hf (in-process, default) or vllm (a vLLM server per model; faster)")
    p.add_argument("--out", required=True, type=Path, help="loop folder (rerun with the same options resumes)")


def run(args) -> int:
    from codeagent.improve import improve, preset_config
    from codeagent.improve.report import print_table
    cfg = preset_config(
        args.preset, task_set=args.task_set, eval_set=args.eval_set, model=args.model, iterations=args.iterations,
        samples=args.samples, verifier=args.verifier, train_tasks=args.train_tasks, eval_tasks=args.eval_tasks,
        eval_samples=args.eval_samples, continue_from_previous=args.continue_from_previous,
        lora=False if args.full_finetune else None, max_steps=args.max_steps, lr=args.lr, backend=args.backend,
        concurrency=args.concurrency, workers=args.workers, seed=args.seed,
        engine=args.engine)
    metrics = improve(cfg, args.out)
    print_table(cfg, metrics, args.out)
    print(f"metrics: {args.out / 'metrics.json'}  report: {args.out / 'report.md'}  plot: {args.out / 'learning_curve.png'}")
    return 0
