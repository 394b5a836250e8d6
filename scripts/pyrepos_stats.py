"""Print the build figures of a `format: repos` set (from its taskset.yaml) as Markdown tables:
per library and strategy, candidates validated and tasks kept; why the rest were dropped.

    python scripts/pyrepos_stats.py task_sets/pyrepos
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml


def main(folder: str) -> None:
    meta = yaml.safe_load((Path(folder) / "taskset.yaml").read_text())
    stats = meta["stats"]
    strategies = meta["built_with"]["strategies"]
    print("| library | pristine tests | build s | " + " | ".join(strategies) + " | total |")
    print("|---" * (len(strategies) + 4) + "|")
    for s in stats:
        cells = [f"{s['kept'].get(k, 0)}/{s['candidates'].get(k, 0)}" for k in strategies]
        total = f"**{sum(s['kept'].values())}/{sum(s['candidates'].values())}**"
        print(f"| {s['source']} | {s['baseline_tests']} | {s['seconds']} | " + " | ".join(cells) + f" | {total} |")
    journals = sorted((Path(folder) / ".synth").glob("*.jsonl"))
    if journals:  # present where the set was built
        import json
        print()
        print("| library | candidates validated | sandbox pytest seconds (sum) | mean per candidate |")
        print("|---|---|---|---|")
        for j in journals:
            rows = [json.loads(line) for line in j.read_text().splitlines() if line.strip()]
            total = sum(r["duration"] for r in rows)
            print(f"| {j.stem} | {len(rows)} | {total:.0f} | {total / max(1, len(rows)):.2f} |")
    print()
    print("| library | " + " | ".join(sorted({r for s in stats for r in s["reasons"]})) + " |")
    reasons = sorted({r for s in stats for r in s["reasons"]})
    print("|---" * (len(reasons) + 1) + "|")
    for s in stats:
        print(f"| {s['source']} | " + " | ".join(str(s["reasons"].get(r, 0)) for r in reasons) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "task_sets/pyrepos")
