"""Generation throughput: the hand-written `hf` engine vs vLLM, same prompts, one run.

    python scripts/bench_generate.py [--plan smollm2-135m=hf+vllm,qwen2.5-coder-0.5b=vllm]
                                     [--concurrency 8,32,48] [--prompts 48] [--max-tokens 96]
                                     [--rounds 2] [--threads N] [--vllm-compile]
                                     [--vllm-max-num-seqs N]

For each model of the plan, each engine is loaded once (`hf`: `MODEL` on the in-process batching
engine with max batch = concurrency; `vllm`: `vllm:MODEL`, a vLLM server) and the same HumanEval
prompts are generated greedily by `concurrency` caller threads, one prompt per call. Engines run
alternately at each concurrency, and with --rounds 2 the second round reverses the order, so a
shared machine's load drift falls on both; the table shows each engine's best round (and the
median). Useful tokens/s counts only tokens in the replies. "same text" compares each engine's
greedy replies with the first engine's for the same model. Goal on 2 CPU cores: vLLM >= 3x the
`hf` engine for SmolLM2 at 32-48 concurrent sequences.
vLLM knobs, per engine of the plan: `vllm/compile` (keep torch.compile), `vllm/nopreload` (no
tcmalloc/Intel OpenMP preload), `vllm/bf16` (bfloat16 weights: less memory traffic per token on a
CPU with AVX512-BF16, but no longer bit-comparable with the fp32 `hf` engine, so "same text" may drop).
(Concurrency 1,4,8,16 on `=hf` alone reproduces the old batch-size table.)
"""

import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def prompts(count: int) -> list[list[dict]]:
    from codeagent.tasks.humaneval import read_problems
    problems = read_problems()[:count]
    return [[{"role": "user", "content": "Complete this Python function. Reply with code only.\n\n"
              f"```python\n{p['prompt']}```"}] for p in problems]


def preload_libs() -> str:
    """tcmalloc + Intel OpenMP, as vLLM's CPU guide advises (empty where not installed)."""
    found = []
    for pattern in ("/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4", str(ROOT / ".venv-vllm/lib/libiomp5.so")):
        if Path(pattern).is_file():
            found.append(pattern)
    return ":".join(found)


def load(model: str, engine: str, args, concurrency: int):
    from codeagent.models import load_model
    if engine == "hf":
        options = {"threads": args.threads} if args.threads else {}
        return load_model(model, max_batch=concurrency, **options)
    knobs = engine.split("/")[1:]  # e.g. vllm/nopreload/compile/bf16: knobs for this engine only
    options = {"enforce_eager": not (args.vllm_compile or "compile" in knobs), "max_num_seqs": args.vllm_max_num_seqs,
               "preload": "nopreload" not in knobs, **({"dtype": "bfloat16"} if "bf16" in knobs else {})}
    return load_model(f"vllm:{model}", concurrency=max(64, concurrency), **options)


def timed(model, engine: str, convs, params, concurrency: int) -> dict:
    if engine == "hf":
        model.max_batch = concurrency
    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        out = list(pool.map(lambda conv: model.generate([conv], params)[0][0], convs))
    wall = time.perf_counter() - t0
    return {"wall": wall, "tokens": sum(c.completion_tokens for c in out), "texts": [c.text for c in out],
            "hit_limit": sum(c.finish_reason == "length" for c in out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--plan", default="smollm2-135m=hf+vllm,qwen2.5-coder-0.5b=vllm",
                    help="MODEL=ENGINE+ENGINE,... (engines: hf, vllm, vllm/nopreload, vllm/compile, "
                         "vllm/nopreload/compile; vllm preloads tcmalloc + iomp by default)")
    ap.add_argument("--concurrency", default="8,32,48")
    ap.add_argument("--prompts", type=int, default=48)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads of the hf engine")
    ap.add_argument("--vllm-compile", action="store_true", help="keep vLLM's torch.compile (slow start-up)")
    ap.add_argument("--vllm-max-num-seqs", type=int, default=None)
    args = ap.parse_args()

    from codeagent.models import SamplingParams

    levels = [int(c) for c in args.concurrency.split(",")]
    convs = prompts(args.prompts)
    params = SamplingParams(max_tokens=args.max_tokens, temperature=0.0)
    rows = []
    for item in args.plan.split(","):
        name, _, engines = item.partition("=")
        engines = engines.split("+")
        models, started = {}, {}
        try:
            for e in engines:
                t0 = time.perf_counter()
                models[e] = load(name, e, args, max(levels))
                started[e] = time.perf_counter() - t0
                models[e].generate(convs[:1], SamplingParams(max_tokens=4))  # warm-up
                print(f"{name} on {e}: ready in {started[e]:.0f} s", flush=True)
            runs = {(e, c): [] for e in engines for c in levels}
            for r in range(args.rounds):
                order = engines if r % 2 == 0 else engines[::-1]
                for c in levels:
                    for e in order:
                        x = timed(models[e], e, convs, params, c)
                        runs[e, c].append(x)
                        print(f"  round {r + 1} {name} {e} c={c}: {x['tokens'] / x['wall']:.1f} tok/s", flush=True)
        finally:
            for m in models.values():
                m.close()
        for c in levels:
            base = None
            for e in engines:
                rates = [x["tokens"] / x["wall"] for x in runs[e, c]]
                best = max(runs[e, c], key=lambda x: x["tokens"] / x["wall"])
                base = base or (e, best)
                same = sum(a == b for a, b in zip(best["texts"], base[1]["texts"]))
                rate = max(rates)
                base_rate = base[1]["tokens"] / base[1]["wall"]
                rows.append(f"| {name} | {c} | {e} | {started[e]:.0f} | {rate:.1f} (median {statistics.median(rates):.1f}) "
                            f"| {rate / base_rate:.2f}x vs {base[0]} | {same}/{len(convs)} | "
                            f"{best['hit_limit']}/{len(convs)} |")
    knobs = [f"preload={preload_libs()} unless /nopreload", f"compile={args.vllm_compile}",
             f"max_num_seqs={args.vllm_max_num_seqs or 'default'}", f"hf threads={args.threads or 'default'}"]
    print(f"\n{len(convs)} HumanEval prompts, max_tokens {args.max_tokens}, greedy, {args.rounds} round(s); "
          f"vLLM knobs: {', '.join(knobs)}")
    print("| model | concurrency | engine | start s | useful tok/s, best (median) | ratio | same text "
          "| hit token limit |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
