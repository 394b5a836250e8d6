"""codeagent run: an agent attempts every task of a task set in sandboxes (resumable)."""

from pathlib import Path

from codeagent.cli.assignments import option_dict
from codeagent.cli.executor_args import add_executor_arguments, executor_choice

HELP = "run an agent on a task set's tasks and record trajectories (rerun with the same --out resumes)"


def add_arguments(p) -> None:
    p.add_argument("--task-set", required=True, help="registry name (humaneval, pyfuncs) or path to a set folder")
    p.add_argument("--split", choices=["train", "test"], help="only tasks of this split (default: all)")
    from codeagent.models import DEFAULT_MODEL, accepted_forms
    p.add_argument("--model", default=None,
                   help=f"model spec (default {DEFAULT_MODEL}): {', '.join(accepted_forms())}")
    p.add_argument("--agent", default="rewrite", help="rewrite (single shot, small models) or bash (multi-turn)")
    p.add_argument("--agent-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="override a field of the agent's config, e.g. max_steps=20 (repeatable)")
    p.add_argument("--model-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of the model's backend, e.g. max_model_len=8192 for a vllm: model "
                        "(values are read as JSON where they parse; repeatable)")
    p.add_argument("--samples", type=int, default=1, help="attempts per task")
    p.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (0: greedy)")
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--max-tokens", type=int, default=512, help="most new tokens per model reply")
    p.add_argument("--max-tasks", type=int, help="only the first M tasks")
    p.add_argument("--min-tier", type=int, help="only tasks of at least this tier (pyfuncs: 1-4)")
    p.add_argument("--concurrency", type=int, default=4,
                   help="attempts in flight (with a local model, also its batch size)")
    p.add_argument("--backend", default="auto", choices=["auto", "docker", "local"],
                   help="sandbox backend (local is WEAKER isolation than docker)")
    p.add_argument("--feedback", type=int, default=0,
                   help="rewrite agent: retry rounds showing failures of the task's visible tests")
    p.add_argument("--seed", type=int, default=0, help="root of every sample's seed")
    p.add_argument("--base-url", help="OpenAI-compatible server URL for openai: models")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, type=Path, help="run folder (config.json, trajectories.jsonl)")
    add_executor_arguments(p)


def run(args) -> int:
    from codeagent.models import DEFAULT_MODEL
    from codeagent.run import RunConfig, print_summary, run_agent

    agent_options = option_dict(args.agent_opt, "--agent-opt", "max_steps=20")
    model_options = option_dict(args.model_opt, "--model-opt", "max_model_len=8192", as_json=True)
    executor, options = executor_choice(args)
    config = RunConfig(task_set=args.task_set, split=args.split, model=args.model or DEFAULT_MODEL,
                       agent=args.agent, agent_options=agent_options, model_options=model_options, samples=args.samples,
                       temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                       max_tasks=args.max_tasks, min_tier=args.min_tier, concurrency=args.concurrency, backend=args.backend,
                       feedback=args.feedback, seed=args.seed, base_url=args.base_url,
                       progress=not args.no_progress, executor=executor or "local", executor_options=options)
    summary = run_agent(config, args.out)
    print_summary(summary)
    return 0 if summary.n_done == summary.n_expected else 1
