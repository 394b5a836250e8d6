"""Grading time of repository tasks: this tree against a baseline tree (e.g. main before the
integrity work), on the same tasks' reference fixes, alternated in the same run.

    python scripts/bench_repo_grade.py [--baseline-tree /work/main] [--per-source 2] [--rounds 2]

Each measurement is one `grade(task, reference_patch, backend="docker")` in a fresh process per
tree and round (so neither tree profits from the other's warm caches), docker backend. Prints
per-task fastest times (robust on a shared, loaded machine) and the ratio this tree / baseline.
Without --baseline-tree the baseline is this tree with no canaries planted (their cost alone).
"""

import argparse
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def sample(per_source: int) -> list[str]:
    from codeagent.tasks import load_task_set
    picked, seen = [], Counter()
    for t in sorted(load_task_set("pyrepos").tasks(), key=lambda t: t.id):
        if seen[t.metadata["source"]] < per_source:
            seen[t.metadata["source"]] += 1
            picked.append(t.id)
    return picked


def worker(ids: list[str], no_canaries: bool) -> None:
    """Grade each task's reference fix; print {id: [seconds, resolved]} as JSON."""
    import time
    from codeagent.repos.grade import grade
    from codeagent.tasks import load_task_set
    if no_canaries:
        from codeagent.repos import canary
        canary.MAX_ORIGINALS = 0
    tasks = {t.id: t for t in load_task_set("pyrepos").tasks()}
    out = {}
    for tid in ids:
        t0 = time.perf_counter()
        v = grade(tasks[tid], tasks[tid].metadata["reference_patch"], backend="docker")
        out[tid] = [time.perf_counter() - t0, v.resolved]
    print(json.dumps(out))


def measure(tree: Path, ids: list[str], no_canaries: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", *ids] + (["--no-canaries"] if no_canaries else [])
    res = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"worker in {tree} failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline-tree", type=Path)
    ap.add_argument("--per-source", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--worker", nargs="*")
    ap.add_argument("--no-canaries", action="store_true")
    args = ap.parse_args()
    if args.worker is not None:
        return worker(args.worker, args.no_canaries)
    ids = sample(args.per_source)
    base_tree = args.baseline_tree or HERE
    label = f"baseline {base_tree}" if args.baseline_tree else "this tree, no canaries"
    times: dict[str, dict[str, list[float]]] = {"new": {}, "base": {}}
    for r in range(args.rounds):
        for which, tree, off in (("base", base_tree, not args.baseline_tree), ("new", HERE, False)):
            for tid, (secs, resolved) in measure(tree, ids, off).items():
                if not resolved:
                    print(f"warning: {which} did not resolve {tid}", file=sys.stderr)
                times[which].setdefault(tid, []).append(secs)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)
    print(f"{'task':70s} {'base s':>8s} {'new s':>8s} {'ratio':>6s}")
    for tid in ids:
        b, n = min(times["base"][tid]), min(times["new"][tid])
        print(f"{tid:70s} {b:8.2f} {n:8.2f} {n / b:6.2f}")
    tb = sum(min(v) for v in times["base"].values())
    tn = sum(min(v) for v in times["new"].values())
    print(f"total (fastest of each task): {label} {tb:.1f}s, this tree {tn:.1f}s, ratio {tn / tb:.2f}")


if __name__ == "__main__":
    main()
