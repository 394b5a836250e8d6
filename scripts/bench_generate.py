"""Generation throughput of a local model: one-at-a-time vs continuous batching, in one run.

    python scripts/bench_generate.py [--model smollm2-135m] [--prompts 16] [--max-tokens 128]
                                     [--batches 1,4,8,16] [--rounds 1] [--threads N]

The same HumanEval prompts are generated greedily with the engine's max batch set to each size in
turn (batch 1 = strictly one sequence at a time). Useful tokens/s counts only tokens of sequences
still generating (what the replies contain), never padding or finished rows. With --rounds 2 the
second round runs the sizes in reverse order, so drift in a shared machine's load evens out; the
table reports the best round for each size. Goal: >= 3x batch 1 at batch 8.
"""

import argparse
import statistics
import threading
import time


def prompts(count: int) -> list[list[dict]]:
    from codeagent.tasks.humaneval import read_problems
    problems = read_problems()[:count]
    return [[{"role": "user", "content": "Complete this Python function. Reply with code only.\n\n"
              f"```python\n{p['prompt']}```"}] for p in problems]


def timed(model, convs, params, batch: int, progress, task) -> dict:
    """Generate `convs` with max batch `batch`, updating the progress bar from engine counters."""
    model.max_batch = batch
    stats = model.engine.stats
    start_tokens = stats.generated_tokens
    start_steps, start_rows = stats.decode_steps, stats.row_steps
    result: dict = {}

    def work():
        result["out"] = model.generate(convs, params)

    t0 = time.perf_counter()
    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():
        worker.join(0.25)
        progress.update(task, completed=stats.generated_tokens - start_tokens)
    wall = time.perf_counter() - t0
    if "out" not in result:
        raise SystemExit("generation failed; see the traceback above")
    out = [cs[0] for cs in result["out"]]
    steps = stats.decode_steps - start_steps
    return {"batch": batch, "wall": wall, "tokens": sum(c.completion_tokens for c in out),
            "texts": [c.text for c in out], "hit_limit": sum(c.finish_reason == "length" for c in out),
            "rows_per_step": (stats.row_steps - start_rows) / steps if steps else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model spec (default: the embedded default model)")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--batches", default="1,4,8,16")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args()

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from codeagent.models import DEFAULT_MODEL, SamplingParams, load_model

    spec = args.model or DEFAULT_MODEL
    batches = [int(b) for b in args.batches.split(",")]
    convs = prompts(args.prompts)
    params = SamplingParams(max_tokens=args.max_tokens, temperature=0.0)
    t0 = time.perf_counter()
    options = {"threads": args.threads} if args.threads else {}
    model = load_model(spec, max_batch=max(batches), **options)
    print(f"loaded {spec} in {time.perf_counter() - t0:.1f} s")
    model.generate(convs[:1], SamplingParams(max_tokens=4))  # warm-up: first-call allocations

    runs: dict[int, list[dict]] = {b: [] for b in batches}
    bound = len(convs) * args.max_tokens
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("tokens"), TimeElapsedColumn()) as progress:
        for r in range(args.rounds):
            order = batches if r % 2 == 0 else batches[::-1]
            for b in order:
                task = progress.add_task(f"round {r + 1} batch {b:>2}", total=bound)
                runs[b].append(timed(model, convs, params, b, progress, task))
                progress.update(task, total=runs[b][-1]["tokens"], completed=runs[b][-1]["tokens"])
    model.close()

    best = {b: max(rs, key=lambda x: x["tokens"] / x["wall"]) for b, rs in runs.items()}
    base = best[batches[0]]
    base_rate = base["tokens"] / base["wall"]
    print(f"\nmodel {spec}, {len(convs)} HumanEval prompts, max_tokens {args.max_tokens}, greedy, "
          f"{args.rounds} round(s), best round shown")
    print(f"| max batch | wall s | useful tokens | useful tok/s | vs batch {batches[0]} | avg rows/step "
          f"| hit token limit | same text as batch {batches[0]} |")
    print("|---|---|---|---|---|---|---|---|")
    for b in batches:
        x = best[b]
        rate = x["tokens"] / x["wall"]
        same = sum(a == c for a, c in zip(x["texts"], base["texts"]))
        spread = ""
        if len(runs[b]) > 1:
            spread = f" (median {statistics.median(y['tokens'] / y['wall'] for y in runs[b]):.1f})"
        print(f"| {b} | {x['wall']:.1f} | {x['tokens']} | {rate:.1f}{spread} | {rate / base_rate:.2f}x "
              f"| {x['rows_per_step']:.2f} | {x['hit_limit']}/{len(convs)} | {same}/{len(convs)} |")


if __name__ == "__main__":
    main()
