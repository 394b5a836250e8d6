"""The default model's ability on pyfuncs, per split and tier: greedy pass@1 on every task, and
sampled pass@k on a tier-stratified slice, the first N tasks of each tier in the set's stable
(family-interleaved) order (the slice keeps CPU time bounded).

    python scripts/bench_pyfuncs_model.py [--model smollm2-135m] [--k 8] [--per-tier 6] [--concurrency 8]
                                          --out runs/bench_pyfuncs
Resumable (runs and verification resume); prints markdown tables for BENCHMARKS.md.
"""

import argparse
from collections import defaultdict
from pathlib import Path

from codeagent.evaluation.passk import pass_at_k
from codeagent.improve.paired import solved_counts
from codeagent.run import RunConfig, run_agent
from codeagent.tasks import load_tasks, tasks_by_id
from codeagent.verify.stage import VerifyConfig, verify_run


def measure(model, split, samples, temperature, task_ids, out, max_tokens, concurrency=8):
    run_agent(RunConfig(task_set="pyfuncs", split=split, model=model, samples=samples, temperature=temperature,
                        only_task_ids=task_ids, max_tokens=max_tokens, concurrency=concurrency), out)
    verify_run(out, VerifyConfig(verifiers=("heldout",)))
    return solved_counts(out)


def stratified(split_tasks, per_tier):
    """The first `per_tier` tasks of each tier, in the set's stable order."""
    seen = defaultdict(int)
    ids = []
    for t in split_tasks:
        tier = t.metadata["tier"]
        if seen[tier] < per_tier:
            seen[tier] += 1
            ids.append(t.id)
    return tuple(ids)


def table(title, counts, tasks, k):
    by_tier = defaultdict(list)
    for tid, nc in counts.items():
        by_tier[tasks[tid].metadata["tier"]].append(nc)
    lines = [f"**{title}**", "", "| tier | tasks | " + f"pass@{k} |", "|---|---|---|"]
    for tier in sorted(by_tier) + ["all"]:
        rows = [nc for t in by_tier for nc in by_tier[t]] if tier == "all" else by_tier[tier]
        score = sum(pass_at_k(n, c, k) for n, c in rows) / len(rows)
        lines.append(f"| {tier} | {len(rows)} | {score:.3f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--per-tier", type=int, default=6, help="tasks per tier (and split) for sampled pass@k")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_pyfuncs"))
    ap.add_argument("--concurrency", type=int, default=8,
                    help="attempts in flight (a vllm: model serves them as one batch; 48 suits it)")
    args = ap.parse_args()
    tasks = tasks_by_id(load_tasks("pyfuncs"))
    parts = []
    for split in ("test", "train"):
        c = measure(args.model, split, 1, 0.0, None, args.out / f"greedy_{split}", args.max_tokens,
                    args.concurrency)
        parts.append(table(f"{split} split, greedy (all {len(c)} tasks)", c, tasks, 1))
    if args.k > 1 and args.per_tier:
        for split in ("test", "train"):
            ids = stratified(load_tasks("pyfuncs", split), args.per_tier)
            c = measure(args.model, split, args.k, 0.8, ids, args.out / f"sampled_{split}_tiers", args.max_tokens,
                        args.concurrency)
            parts.append(table(f"{split} split, T=0.8, {args.per_tier} tasks per tier ({len(c)} tasks)", c, tasks, args.k))
    text = "\n\n".join(parts)
    (args.out / "tables.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
