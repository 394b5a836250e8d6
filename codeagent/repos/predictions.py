"""SWE-bench-style predictions (`instance_id`, `model_patch`) graded on repository tasks, with the
counts the SWE-bench harness reports (resolved, FAIL_TO_PASS and PASS_TO_PASS passed), split by
localization level, strategy and origin (procedural or self-play). A run's `trajectories.jsonl`
reads as predictions too (`task_id`, `sample_index`, `patch`): several attempts of one task are
graded each. `results.jsonl` gains one line per graded prediction as it finishes, so a rerun
resumes."""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from codeagent.errors import UserError
from codeagent.jsonl import input_records

from .grade import RepoVerdict, grade

RESULTS = "results.jsonl"
SELF_PLAY = "self_play"
"""The self-play strategy's name (`codeagent/repos/selfplay.py`); every other strategy is procedural."""
SUMMARY = "summary.json"


def prediction_key(task_id: str, index: int) -> str:
    return f"{task_id}#{index}"


def read_predictions(path: Path, tasks) -> dict[str, str]:
    """prediction key (`task id#index`) -> patch. `instance_id` may be our task id or its export
    form (`/` -> `__`); the index is the line's `sample_index`, else its count among the task's lines."""
    by_instance = {t.id.replace("/", "__"): t.id for t in tasks} | {t.id: t.id for t in tasks}
    out, counts = {}, Counter()
    for where, p in input_records(path, "prediction"):
        key = p.get("instance_id") or p.get("task_id")
        patch = p.get("model_patch", p.get("patch"))
        if key is None or patch is None:
            raise UserError(f"{where}: a prediction needs instance_id (or task_id) and model_patch (or patch)")
        if key not in by_instance:
            raise UserError(f"{where}: instance {key!r} is not a task of this set")
        task_id = by_instance[key]
        index = p.get("sample_index", counts[task_id])
        counts[task_id] += 1
        out[prediction_key(task_id, index)] = patch or ""
    return out


def evaluate_predictions(tasks, predictions: dict[str, str], out: Path, backend: str = "auto",
                         workers: int = 2) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / RESULTS
    done: dict[str, dict] = {}
    if results_path.is_file():
        for line in results_path.read_text().splitlines():
            try:
                r = json.loads(line)
                done[prediction_key(r["task_id"], r.get("sample_index", 0))] = r
            except (ValueError, KeyError):
                continue  # a torn last line
    by_id = {t.id: t for t in tasks}
    todo = [key for key in predictions if key not in done]
    lock = threading.Lock()

    def one(key: str) -> None:
        tid, _, index = key.rpartition("#")
        try:
            v: RepoVerdict = grade(by_id[tid], predictions[key], backend=backend)
        except Exception as e:  # noqa: BLE001 — a sandbox that failed is the harness's fault, not the patch's
            v = RepoVerdict(task_id=tid, resolved=False, error=f"{type(e).__name__}: {str(e)[:300]}")
        r = {**v.to_dict(), "sample_index": int(index)}
        with lock:
            done[key] = r
            if not v.error:  # harness errors are not kept, so a rerun grades them again
                with open(results_path, "a") as f:
                    f.write(json.dumps(r) + "\n")

    with ThreadPoolExecutor(max(1, workers)) as pool:
        list(pool.map(one, todo))
    summary = summarize([done[k] for k in predictions], by_id)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def summarize(results: list[dict], by_id) -> dict:
    def rate(rs):
        return {"resolved": sum(r["resolved"] for r in rs), "instances": len(rs)}
    groups: dict[str, dict[str, list]] = {"level": {}, "strategy": {}, "origin": {}, "heldout": {}}
    for r in results:
        meta = by_id[r["task_id"]].metadata
        meta = {**meta, "origin": "self-play" if meta.get("strategy") == SELF_PLAY else "procedural",
                "heldout": meta.get("heldout") or "none"}
        for key in groups:
            groups[key].setdefault(str(meta.get(key, "?")), []).append(r)
    return {
        "instances": len(results),
        "resolved": sum(r["resolved"] for r in results),
        "patch_applied": sum(r["patch_applied"] for r in results),
        "fail_to_pass": {"passed": sum(r["f2p_passed"] for r in results),
                         "total": sum(len(r["fail_to_pass"]) for r in results)},
        "pass_to_pass": {"passed": sum(r["p2p_passed"] for r in results),
                         "total": sum(len(r["pass_to_pass"]) for r in results)},
        "harness_errors": sum(bool(r["error"]) for r in results),
        "hack_flags": dict(Counter(f for r in results for f in r["hack_flags"])),
        "by_level": {k: rate(v) for k, v in sorted(groups["level"].items())},
        "by_strategy": {k: rate(v) for k, v in sorted(groups["strategy"].items())},
        "by_origin": {k: rate(v) for k, v in sorted(groups["origin"].items())},
        # what a test-split task holds out: "function" or "library" ("none": a train task)
        "by_heldout": {k: rate(v) for k, v in sorted(groups["heldout"].items())},
        "tasks": len({r["task_id"] for r in results}),
        "tasks_resolved": len({r["task_id"] for r in results if r["resolved"]}),
    }


def print_summary(s: dict) -> None:
    print(f"Instances resolved: {s['resolved']}/{s['instances']}  (patch applied: {s['patch_applied']})")
    print(f"FAIL_TO_PASS passed: {s['fail_to_pass']['passed']}/{s['fail_to_pass']['total']}  "
          f"PASS_TO_PASS passed: {s['pass_to_pass']['passed']}/{s['pass_to_pass']['total']}")
    if s["hack_flags"]:
        print(f"hack flags: {s['hack_flags']}")
    if s["tasks"] != s["instances"]:
        print(f"tasks with a resolving attempt: {s['tasks_resolved']}/{s['tasks']}")
    for key in ("by_level", "by_strategy", "by_origin", "by_heldout"):
        print(f"{key}: " + ", ".join(f"{k} {v['resolved']}/{v['instances']}" for k, v in s[key].items()))
