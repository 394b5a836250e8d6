"""Sandbox overheads, measured in one run: median of several repetitions each.

    python scripts/bench_sandbox.py [--reps 20]

Rows: a plain local subprocess (`subprocess.run(["true"])`, the baseline every ratio is against),
the local backend's exec, a cold docker sandbox (create + start + upload a small repo + git init
+ remove), a warm docker exec of `true`, and a pool checkout (reset + upload + git init of a
reused container). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codeagent.sandbox import SandboxLimits, open_sandbox  # noqa: E402
from codeagent.sandbox.pool import SandboxPool  # noqa: E402

SMALL_REPO = {f"pkg/mod{i}.py": f"def f{i}(x):\n    return x + {i}\n" * 20 for i in range(20)}
SMALL_REPO["tests/test_mod.py"] = "from pkg.mod0 import f0\n\ndef test_f0():\n    assert f0(1) == 1\n"


def median_s(fn: Callable[[], object], reps: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=20, help="repetitions per measurement (median is reported)")
    args = ap.parse_args()
    limits = SandboxLimits()
    rows: list[tuple[str, float]] = []

    rows.append(("local subprocess `subprocess.run(['true'])`",
                 median_s(lambda: subprocess.run(["true"], check=True), args.reps)))
    try:
        with open_sandbox("local", SMALL_REPO, limits) as box:
            rows.append(("local backend exec `true`", median_s(lambda: box.exec("true"), args.reps)))
    except Exception as e:  # noqa: BLE001 — report what could not be measured, keep the rest
        print(f"local backend not measured: {type(e).__name__}: {e}", file=sys.stderr)

    rows.append(("docker cold sandbox (create+start+upload 21 files+git init+remove)",
                 median_s(lambda: open_sandbox("docker", SMALL_REPO, limits).close(), args.reps)))
    with open_sandbox("docker", SMALL_REPO, limits) as box:
        rows.append(("docker warm exec `true` (incl. kill of leftovers)",
                     median_s(lambda: box.exec("true"), args.reps)))
        rows.append(("  for reference: bare `docker exec true` (no timeout, no cleanup)",
                     median_s(lambda: box.container.exec_run(["true"], user="1000:1000"), args.reps)))
    with SandboxPool("docker", size=1, limits=limits) as pool:
        def checkout() -> None:
            with pool.checkout(SMALL_REPO):
                pass
        rows.append(("docker pool checkout (kill+empty+upload+git init, reused container)",
                     median_s(checkout, args.reps)))

    base = rows[0][1]
    load = os.getloadavg()[0]
    print(f"\nmedian of {args.reps} runs each; {os.cpu_count()} CPUs, load average {load:.1f}\n")
    print("| operation | median | × local subprocess |")
    print("|---|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t * 1000:.1f} ms | {t / base:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
