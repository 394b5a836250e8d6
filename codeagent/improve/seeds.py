"""Several seeds of one loop, and two loops compared seed by seed.

One seed's loop answers "did this run improve?"; whether the recipe improves is a question about
the spread over runs. `improve_seeds` runs the loop once per seed into `OUT/seed_S/` (each an
ordinary, resumable loop folder) and `aggregate` reads their metrics.json: per iteration, the
paired difference to the base model of each seed, its mean and sample standard deviation, and
how many seeds each verdict word got. `compare_seeded` does the same for two loops (e.g. the two
verifier modes): per seed present in both, loop B minus loop A task by task on the primary
measure, then mean and sd over seeds. A folder without seed sub-folders counts as one seed.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

from codeagent.errors import UserError
from codeagent.jsonl import write_json
from codeagent.stats import mean_sd, paired_difference, rounded

from .config import ImproveConfig, with_values
from .layout import METRICS_FILE, seed_folder, seed_folders
from .measure import primary, rates

SEEDS_FILE = "seeds.json"
SEEDS_REPORT = "seeds.md"
EVALS = {"eval": "eval split", "eval_ood": "out-of-distribution set"}


def improve_seeds(cfg: ImproveConfig, seeds: list[int], out: Path,
                  donors: list[tuple[ImproveConfig, Path]] | None = None) -> list[dict]:
    """The loop once per seed (`run.seed`, `train.seed`) into `out/seed_S/`; returns the aggregate
    (also written to seeds.json and seeds.md). With `donors` (a sweep's finished loops), each seed's
    loop first takes the work a donor already did the same way (`reuse.py`), then joins the donors."""
    from .loop import improve
    from .reuse import reuse
    if len(set(seeds)) != len(seeds) or not seeds:
        raise UserError(f"--seeds needs distinct seeds, e.g. 0,1,2; got {seeds}")
    for s in seeds:
        seeded, folder = with_values(cfg, {"run.seed": s, "train.seed": s}), seed_folder(out, s)
        if donors is not None:
            for taken in reuse(seeded, folder, donors):
                print(f"[codeagent] {folder}: {taken['work']} reused from {taken['from']} (same config and seed)", file=sys.stderr)
        improve(seeded, folder)
        if donors is not None:
            donors.append((seeded, folder))
    rows = aggregate([seed_folder(out, s) for s in seeds])
    write_json(Path(out) / SEEDS_FILE, rows)
    (Path(out) / SEEDS_REPORT).write_text(markdown(rows, f"{cfg.task_set}, {cfg.verifier} verifier, "
                                                         f"seeds {', '.join(map(str, seeds))}"))
    return rows


def _metrics(folder: Path) -> list[dict]:
    path = Path(folder) / METRICS_FILE
    if not path.is_file():
        raise UserError(f"{path} not found: {folder} is not a finished `codeagent improve --out` folder")
    return json.loads(path.read_text())


def _summary(diffs: list[float], verdicts: list[str], measure: str) -> dict:
    mean, sd = mean_sd(diffs)
    return {"measure": measure, "n_seeds": len(diffs), "diff_mean": rounded(mean), "diff_sd": rounded(sd),
            "diffs": [rounded(d) for d in diffs], "verdicts": dict(Counter(verdicts))}


def aggregate(folders: list[Path]) -> list[dict]:
    """Per iteration (past the base), each eval's paired difference to the base over the seeds'
    loops: mean, sd, each seed's value and verdict counts. Iterations all seeds reached only."""
    runs = [_metrics(f) for f in folders]
    rows = []
    for i in range(1, min(len(m) for m in runs)):
        row: dict = {"iteration": i}
        for key in EVALS:
            vs = [m[i].get(key, {}).get("vs_base") for m in runs]
            if all(vs):
                row[key] = _summary([v["diff"] for v in vs], [v["verdict"] for v in vs], vs[0]["measure"])
        rows.append(row)
    return rows


def compare_seeded(a: Path, b: Path) -> list[dict]:
    """Loop B minus loop A per iteration (the base row included), task by task on the primary
    measure, for each seed both hold; then mean and sd over those seeds."""
    fa, fb = seed_folders(a) or [Path(a)], seed_folders(b) or [Path(b)]
    pairs = [(x, y) for x in fa for y in fb if x.name == y.name] if len(fa) > 1 or len(fb) > 1 else [(fa[0], fb[0])]
    if not pairs:
        raise UserError(f"{a} and {b} share no seed folder (seed_S) to compare")
    runs = [(_metrics(x), _metrics(y)) for x, y in pairs]
    rows = []
    for i in range(min(min(len(x), len(y)) for x, y in runs)):
        row: dict = {"iteration": i}
        for key in EVALS:
            found = []
            for x, y in runs:
                ea, eb = x[i].get(key, {}), y[i].get(key, {})
                name = primary(ea)
                ra, rb = rates(ea, name), rates(eb, name)
                if ra and rb and set(ra) & set(rb):
                    found.append((paired_difference(ra, rb), name))
            if found and len(found) == len(runs):
                measure = "sampled_pass@1" if found[0][1] == "sampled" else "pass@1"
                row[key] = _summary([p.diff.estimate for p, _ in found], [p.verdict for p, _ in found], measure)
        rows.append(row)
    return rows


def markdown(rows: list[dict], title: str, what: str = "vs base") -> str:
    """A table per eval set: iteration, mean ± sd of the paired difference, each seed's value, verdicts."""
    lines = [f"# {title}", ""]
    for key, where in EVALS.items():
        if not any(key in r for r in rows):
            continue
        lines += [f"Paired difference {what}, {where} (mean ± sd over seeds):", "",
                  "| iter | measure | seeds | Δ mean ± sd | per seed | verdicts |", "|---|---|---|---|---|---|"]
        for r in rows:
            s = r.get(key)
            if s:
                sd = "n/a" if s["diff_sd"] is None else f"{s['diff_sd']:.3f}"
                verdicts = ", ".join(f"{w} {n}" for w, n in sorted(s["verdicts"].items()))
                lines.append(f"| {r['iteration']} | {s['measure']} | {s['n_seeds']} | {s['diff_mean']:+.3f} ± {sd} | "
                             + " ".join(f"{d:+.3f}" for d in s["diffs"]) + f" | {verdicts} |")
        lines.append("")
    return "\n".join(lines)
