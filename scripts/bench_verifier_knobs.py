"""The generated verifier's knobs, measured: precision and recall against the held-out tests.

Takes a finished `codeagent run` folder (the attempts to judge) and verifies a copy of it once per
setting: the loop's default (CodeT agreement over the model's own tests), the mutation-adequacy
filter, agreement thresholds (smallest cluster, fewest tests passed), and other test writers (more
test replies, or a separate model). Settings that keep the test writer reuse the tests the first
setting wrote (copied into their folder), so they differ only in how the same tests are used; a
setting with another writer has its tests written afresh.

Per setting it prints accepted / TP / FP / precision / recall / pick-correct, precision's 95%
bootstrap interval over tasks, and the paired difference in precision to the first setting (the
same tasks resampled for both), so "the filter raises precision" is said only when that interval
excludes zero. Results go to OUT/knobs.json; each setting's verified copy stays in OUT/SETTING.

    python scripts/bench_verifier_knobs.py RUN_DIR --out runs/knobs \
        --model vllm:qwen2.5-coder-0.5b --samples 2 [--settings agreement,mutation-filter,...]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codeagent.runfolder import CONFIG_FILE, GENERATED_TESTS_FILE, TRAJECTORIES_FILE, RunFolder  # noqa: E402
from codeagent.stats import rounded  # noqa: E402
from codeagent.verify.gap import is_correct  # noqa: E402
from codeagent.verify import accepts  # noqa: E402
from codeagent.verify.stage import VerifyConfig, verify_run  # noqa: E402

SETTINGS: dict[str, dict] = {
    "agreement": {},
    "mutation-filter": {"mutation": "filter"},
    "cluster-2": {"min_cluster_size": 2},
    "cluster-3": {"min_cluster_size": 3},
    "tests-2": {"min_tests_passed": 2},
    "tests-3": {"min_tests_passed": 3},
    "mutation-filter+cluster-2": {"mutation": "filter", "min_cluster_size": 2},
    "writer-4-replies": {"samples": 4},
    "writer-smollm2": {"model": "smollm2-135m"},
}
"""setting name -> VerifyConfig fields it changes from the base config."""
WRITER_FIELDS = ("model", "samples", "n_tests", "temperature")
"""A setting that changes one of these writes its own tests; the others reuse the first setting's."""
RESAMPLES = 10_000


def counts_by_task(verdicts) -> dict[str, dict[str, int]]:
    """task -> {"accepted", "tp"} of the generated verifier, over the verified attempts."""
    out: dict[str, dict[str, int]] = {}
    for v in verdicts:
        if v.part("heldout") is None or v.part("generated") is None:
            continue
        row = out.setdefault(v.task_id, {"accepted": 0, "tp": 0})
        if accepts(v, "generated"):
            row["accepted"] += 1
            row["tp"] += is_correct(v)
    return out


def precision_interval(counts: dict[str, dict[str, int]], base: dict[str, dict[str, int]] | None,
                       seed: int = 0) -> tuple[list, list | None]:
    """95% bootstrap intervals over tasks of precision and (with `base`) of precision minus base's."""
    tasks = sorted(set(counts) & set(base) if base is not None else counts)
    rng = random.Random(seed)
    mine, diffs = [], []

    def prec(c, pick):
        acc = sum(c[t]["accepted"] for t in pick)
        return sum(c[t]["tp"] for t in pick) / acc if acc else None

    for _ in range(RESAMPLES):
        pick = [tasks[rng.randrange(len(tasks))] for _ in tasks]
        p = prec(counts, pick)
        if p is not None:
            mine.append(p)
            if base is not None:
                q = prec(base, pick)
                if q is not None:
                    diffs.append(p - q)

    def interval(xs):
        if not xs:
            return None
        xs.sort()
        return [rounded(xs[int(0.025 * len(xs))]), rounded(xs[min(len(xs) - 1, int(0.975 * len(xs)))])]

    return interval(mine), interval(diffs) if base is not None else None


def mutation_scores(verdicts) -> list[float]:
    """Per task, the mutation score its generated tests reached (tasks where it was measured)."""
    seen: dict[str, float] = {}
    for v in verdicts:
        part = v.part("generated")
        if part is not None and part.mutation_score is not None:
            seen[v.task_id] = part.mutation_score
    return list(seen.values())


def prepare(run_dir: Path, folder: Path, tests_from: Path | None) -> None:
    """A fresh copy of the run's attempts in `folder` (and, given, another copy's generated tests)."""
    if folder.exists():
        return  # resumed: verify_run skips what is done
    folder.mkdir(parents=True)
    for name in (CONFIG_FILE, TRAJECTORIES_FILE):
        shutil.copy2(run_dir / name, folder / name)
    if tests_from is not None and (tests_from / GENERATED_TESTS_FILE).is_file():
        shutil.copy2(tests_from / GENERATED_TESTS_FILE, folder / GENERATED_TESTS_FILE)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, first = baseline ({', '.join(SETTINGS)})")
    ap.add_argument("--model", help="the test writer of the baseline (default: the run's model)")
    ap.add_argument("--samples", type=int, default=2, help="test replies per task of the baseline (the loop's presets: 2)")
    ap.add_argument("--backend", default="auto", choices=["auto", "docker", "local"])
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    names = [s.strip() for s in args.settings.split(",") if s.strip()]
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        ap.error(f"unknown setting(s) {unknown}; known: {', '.join(SETTINGS)}")
    if not (args.run_dir / TRAJECTORIES_FILE).is_file():
        ap.error(f"{args.run_dir}: no {TRAJECTORIES_FILE}; pass the --out folder of a finished `codeagent run`")

    base_cfg = VerifyConfig(model=args.model, samples=args.samples, backend=args.backend, workers=args.workers,
                            concurrency=48)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, base_counts, first = [], None, None
    for name in names:
        change = SETTINGS[name]
        own_tests = any(f in change for f in WRITER_FIELDS)
        folder = args.out / name
        prepare(args.run_dir, folder, None if own_tests or first is None else first)
        start = time.monotonic()
        result = verify_run(folder, replace(base_cfg, **change))
        wall = time.monotonic() - start
        report = result.gap_report or {}
        gen = report.get("verifiers", {}).get("generated", {})
        verdicts = list(RunFolder(folder).verdicts().values())  # read once for both summaries
        counts = counts_by_task(verdicts)
        ci, diff = precision_interval(counts, base_counts)
        scores = mutation_scores(verdicts)
        row = {"setting": name, "change": change, "wall_s": round(wall, 1), "n_attempts": report.get("n_attempts"),
               "n_correct": report.get("n_correct"), **{k: gen.get(k) for k in (
                   "n_accepted", "tp", "fp", "precision", "recall", "false_positive_rate", "pick_correct")},
               "precision_ci": ci, "precision_vs_first_ci": diff,
               "mean_mutation_score": rounded(sum(scores) / len(scores)) if scores else None,
               "tasks_with_mutation_score": len(scores),
               "passes_all": report.get("verifiers", {}).get("passes_all")}
        rows.append(row)
        if first is None:
            first, base_counts = folder, counts
        (args.out / "knobs.json").write_text(json.dumps(rows, indent=2) + "\n")

    print(f"\n{'setting':28} {'acc':>4} {'TP':>4} {'FP':>4} {'prec':>6} {'prec 95% CI':>16} "
          f"{'Δprec vs first [95% CI]':>24} {'recall':>6} {'pick':>5} {'mut':>5} {'wall s':>7}")
    def f(x):
        return "-" if x is None else f"{x:.3f}"

    for r in rows:
        d = r["precision_vs_first_ci"]
        delta = "-" if r is rows[0] or r["precision"] is None or rows[0]["precision"] is None else (
            f"{r['precision'] - rows[0]['precision']:+.3f} " + (f"[{d[0]:+.3f},{d[1]:+.3f}]" if d else "[-]"))
        ci = "-" if not r["precision_ci"] else f"[{r['precision_ci'][0]:.3f},{r['precision_ci'][1]:.3f}]"
        print(f"{r['setting']:28} {r['n_accepted'] or 0:>4} {r['tp'] or 0:>4} {r['fp'] or 0:>4} {f(r['precision']):>6} "
              f"{ci:>16} {delta:>24} {f(r['recall']):>6} {f(r['pick_correct']):>5} {f(r['mean_mutation_score']):>5} "
              f"{r['wall_s']:>7}")
    print(f"\n{rows[0]['n_attempts']} attempts, {rows[0]['n_correct']} correct by the held-out tests; "
          f"results: {args.out / 'knobs.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
