"""codeagent eval: score samples against held-out tests in sandboxes."""

from pathlib import Path

from codeagent.cli.executor_args import add_executor_arguments, executor_choice
from codeagent.evaluation.base import DEFAULT_TIMEOUT_S

HELP = "evaluate samples (completions, solutions or patches) against a task set's held-out tests"


def add_arguments(p) -> None:
    p.add_argument("--task-set", required=True, help="registry name (humaneval, pyfuncs) or path to a set folder")
    p.add_argument("--split", choices=["train", "test"], help="only tasks of this split")
    p.add_argument("--samples", required=True, type=Path,
                   help="JSONL: {task_id, completion} | {task_id, solution} | {task_id|instance_id, patch|model_patch}")
    p.add_argument("--out", required=True, type=Path, help="folder for results.jsonl and summary.json (rerun resumes)")
    p.add_argument("--backend", default="auto", choices=["auto", "docker", "local"],
                   help="sandbox backend (local is WEAKER isolation than docker)")
    p.add_argument("--k", default="1,10,100", help="comma-separated k values for pass@k")
    p.add_argument("--workers", type=int, default=2, help="sandboxes running in parallel")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per sample")
    p.add_argument("--no-cache", action="store_true", help="ignore the content-keyed result cache")
    add_executor_arguments(p)
    p.add_argument("--count-flagged", action="store_true",
                   help="count hack-flagged samples whose tests pass as passed (research on hacking only)")


def run(args) -> int:
    from codeagent.tasks import load_tasks
    tasks = load_tasks(args.task_set, args.split)
    if tasks and all(t.is_repository_task for t in tasks):
        # Repository tasks are graded by FAIL_TO_PASS / PASS_TO_PASS with real pytest.
        from codeagent.repos.predictions import evaluate_predictions, print_summary, read_predictions
        print_summary(evaluate_predictions(tasks, read_predictions(args.samples, tasks), args.out,
                                           backend=args.backend, workers=args.workers))
        return 0
    from codeagent.evaluation.stage import EvalConfig, evaluate, print_summary
    import tempfile
    executor, options = executor_choice(args)
    ks = tuple(int(k) for k in args.k.split(",") if k.strip())
    cache = Path(tempfile.mkdtemp(prefix="codeagent-nocache-")) if args.no_cache else None
    summary = evaluate(EvalConfig(task_set=args.task_set, split=args.split, samples=args.samples, out=args.out,
                                  backend=args.backend, ks=ks, workers=args.workers, timeout_s=args.timeout,
                                  cache_dir=cache, executor=executor or "local", executor_options=options,
                                  count_flagged=args.count_flagged))
    print_summary(summary)
    return 0
