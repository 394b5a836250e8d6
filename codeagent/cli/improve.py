"""codeagent improve: the self-improvement loop."""

from pathlib import Path

from codeagent.cli.assignments import assignment
from codeagent.cli.executor_args import add_executor_arguments, executor_choice

HELP = "run the self-improvement loop (expert iteration): run -> verify -> export -> train -> eval, K times"


def add_arguments(p) -> None:
    from codeagent.improve.config import PRESETS
    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help="quick: qwen2.5-coder-0.5b on vLLM, pyfuncs tiers 3-4, 1 iteration (README command 1); "
                        "quick-smollm2: the small model on the hf engine; full: the whole set, GPU-sized; "
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
    p.add_argument("--min-tier", type=int,
                   help="only train and eval tasks of at least this tier (pyfuncs: 1-4; a capable model has "
                        "room to improve only on the harder ones)")
    p.add_argument("--eval-samples", type=int,
                   help="sampled attempts per eval task for sampled pass@1 and pass@k (0: greedy only; >= 8 to "
                        "resolve small changes)")
    p.add_argument("--ood-eval", metavar="SET", help="also evaluate on this out-of-distribution set's test split "
                                                    "(e.g. humaneval), decontaminated like the eval split")
    p.add_argument("--ood-eval-tasks", type=int, help="first N tasks of the --ood-eval set")
    p.add_argument("--ood-eval-samples", type=int, help="sampled attempts per --ood-eval task (default: as "
                   "--eval-samples; 0: greedy only). Adding --ood-eval to a loop folder with at most one "
                   "iteration done is allowed")
    p.add_argument("--continue-from-previous", action="store_true", default=None,
                   help="train model_{i+1} from model_i (default: from the base on all data so far)")
    p.add_argument("--full-finetune", action="store_true", default=None, help="full fine-tune instead of LoRA")
    p.add_argument("--max-steps", type=int, help="training steps per iteration")
    p.add_argument("--lr", type=float)
    p.add_argument("--test-model", metavar="SPEC",
                   help="model that writes the generated tests (default: the model being trained)")
    p.add_argument("--mutation", choices=["report", "filter"],
                   help="check the generated tests against mutants of the accepted solution: report the mutation "
                        "score, or also agree only on tests that kill a mutant (default: off)")
    p.add_argument("--min-cluster-size", type=int, help="generated verifier: smallest agreeing cluster accepted")
    p.add_argument("--min-tests-passed", type=int, help="generated verifier: fewest generated tests passed to accept")
    p.add_argument("--on-collapse", choices=["stop", "keep-previous", "warn"],
                   help="when eval turns significantly worse than the base model, or diversity falls below "
                        "--min-distinct / --min-distance-ratio: stop the loop (default), discard that model, or warn")
    p.add_argument("--min-distinct", type=float, help="collapse watch: fewest distinct solutions per eval task")
    p.add_argument("--min-distance-ratio", type=float,
                   help="collapse watch: lowest mean pairwise solution distance, as a fraction of the base model's")
    p.add_argument("--backend", choices=["auto", "docker", "local"])
    p.add_argument("--concurrency", type=int, help="attempts in flight, i.e. sequences decoded together")
    p.add_argument("--workers", type=int, help="sandboxes running tests in parallel")
    p.add_argument("--seed", type=int)
    p.add_argument("--seeds", metavar="S,S,...",
                   help="run the loop once per seed into OUT/seed_S/ and aggregate the paired difference to the "
                        "base model over seeds (OUT/seeds.json, OUT/seeds.md)")
    p.add_argument("--set", action="append", metavar="STAGE.FIELD=VALUE",
                   help="any stage field, e.g. train.lr=1e-4 or run.temperature=0.6 (repeatable; VALUE is JSON "
                        "where it parses, else a string)")
    p.add_argument("--engine", choices=["hf", "vllm"],
                   help="sampling engine: hf (in-process, default) or vllm (a vLLM server per model; faster)")
    p.add_argument("--out", required=True, type=Path, help="loop folder (rerun with the same options resumes)")
    add_executor_arguments(p)


def run(args) -> int:
    from codeagent.improve import improve, preset_config
    from codeagent.improve.report import print_table, verdict_lines
    executor, options = executor_choice(args)
    cfg = preset_config(
        args.preset, task_set=args.task_set, eval_set=args.eval_set, model=args.model, iterations=args.iterations,
        samples=args.samples, verifier=args.verifier, train_tasks=args.train_tasks, eval_tasks=args.eval_tasks, min_tier=args.min_tier,
        eval_samples=args.eval_samples, ood_eval=args.ood_eval,
        ood_eval_tasks=args.ood_eval_tasks, ood_eval_samples=args.ood_eval_samples, continue_from_previous=args.continue_from_previous,
        lora=False if args.full_finetune else None, max_steps=args.max_steps, lr=args.lr, backend=args.backend,
        concurrency=args.concurrency, workers=args.workers, seed=args.seed, test_model=args.test_model,
        mutation=args.mutation, on_collapse=args.on_collapse, min_distinct=args.min_distinct,
        min_distance_ratio=args.min_distance_ratio, min_cluster_size=args.min_cluster_size,
        min_tests_passed=args.min_tests_passed, executor=executor, executor_options=options or None, engine=args.engine,
        **dict(assignment(a, "--set", "train.lr=1e-4", form="STAGE.FIELD=VALUE", as_json=True, dotted=True)
               for a in args.set or []))
    if args.seeds:
        return _several_seeds(cfg, args)
    metrics = improve(cfg, args.out)
    print_table(cfg, metrics, args.out)
    for line in verdict_lines(metrics):
        print(line.strip("*"))
    print(f"metrics: {args.out / 'metrics.json'}  report: {args.out / 'report.md'}  plot: {args.out / 'learning_curve.png'}")
    print(f"open in a browser: file://{(args.out / 'report.html').resolve()}")
    return 0


def _several_seeds(cfg, args) -> int:
    from codeagent.errors import UserError
    from codeagent.improve.seeds import SEEDS_REPORT, improve_seeds
    if args.seed is not None:
        raise UserError("give either --seed or --seeds, not both")
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"--seeds {args.seeds!r}: expected integers separated by commas, e.g. 0,1,2") from None
    improve_seeds(cfg, seeds, args.out)
    print((args.out / SEEDS_REPORT).read_text())
    print(f"per seed: {args.out}/seed_S/report.md  aggregate: {args.out / 'seeds.json'}")
    return 0
