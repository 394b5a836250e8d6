"""A fixed scenario whose outputs must not change when the plumbing is restructured.

`python -m tests.equivalence_scenario record` (run once, on the code before a refactor) writes
`tests/fixtures/equivalence/expected.json`: a digest of (1) `codeagent verify` + `export` of a fixed
run made by a scripted model on pyfuncs tasks, and (2) a 2-iteration `improve` loop with the same
scripted model. `tests/test_equivalence.py` runs the scenario on today's code and compares digests.

Only the trainer is a test double (a scripted model cannot be fine-tuned): it records what it was
given and hands back the same scripted replies as the "trained" model. Everything else is real:
sandboxes, the test engine, the hack guard, CodeT agreement, export filters, the loop's bookkeeping.
The digest keeps what the stages decide (verdicts, per-test outcomes, exported rows, metrics) and
drops what varies between machines (durations, absolute paths, run ids, timestamps).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "equivalence" / "expected.json"
TRAIN_IDS = 6
TEST_IDS = 3


def _tasks():
    from codeagent.tasks import load_tasks
    return load_tasks("pyfuncs", "train")[:TRAIN_IDS], load_tasks("pyfuncs", "test")[:TEST_IDS]


def script_rules(train, test) -> dict:
    """Per task: a rewrite reply (reference, wrong, or an always-equal hack) and a test-writing reply
    (right or wrong asserts), so verdicts cover accepted, rejected, hack-flagged and disagreeing cases."""
    rules = []
    for i, t in enumerate(train + test):
        kind = ("ref", "wrong", "ref", "hack", "ref", "wrong", "ref", "wrong", "ref")[i % 9]
        rules.append({"match_last": f"test `{t.entry_point}` on",
                      "reply": _asserts(t, right=(i % 4 != 1))})
        rules.append({"match_last": f"Complete the function `{t.entry_point}`",
                      "reply": "```python\n" + _solution(t, kind) + "```\n"})
    return {"rules": rules}


def _reference(task) -> str:
    return task.reference_files[task.prompt_file]


def _solution(task, kind: str) -> str:
    if kind == "ref":
        return _reference(task)
    if kind == "wrong":
        return f"def {task.entry_point}(*args, **kwargs):\n    return None\n"
    return (f"class _Yes:\n    def __eq__(self, other):\n        return True\n\n\n"
            f"def {task.entry_point}(*args, **kwargs):\n    return _Yes()\n")


def _asserts(task, right: bool) -> str:
    """Asserts from the held-out tests' calls, with the reference's results, or deliberately off."""
    import ast
    ns: dict = {}
    exec(compile(_reference(task), task.id, "exec"), ns)
    fn = ns[task.entry_point]
    lines = []
    for source in task.heldout_tests.values():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == task.entry_point and not node.keywords:
                try:
                    args = [ast.literal_eval(a) for a in node.args]
                    result = repr(fn(*args)) if right else repr("nope")
                except Exception:
                    continue
                lines.append(f"assert {task.entry_point}({', '.join(ast.unparse(a) for a in node.args)}) == {result}")
    return "```python\n" + "\n".join(sorted(set(lines))[:4]) + "\n```\n"


def main(argv: list[str]) -> int:
    import tempfile
    digest = run_scenario(Path(tempfile.mkdtemp(prefix="equiv-")))
    if argv[:1] == ["record"]:
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(digest, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FIXTURE}")
    else:
        print(json.dumps(digest, indent=1, sort_keys=True)[:6000])
    return 0


# -- running it ----------------------------------------------------------------------------------
def run_scenario(root: Path, monkeypatch=None) -> dict:
    """Run both parts under `root`; returns their digest."""
    train, test = _tasks()
    script = root / "script.json"
    script.write_text(json.dumps(script_rules(train, test)))
    digest = {"run": _fixed_run(root / "run", script, train), "improve": _loop(root / "loop", script, train, test)}
    return json.loads(json.dumps(digest).replace(str(root), "ROOT"))


def _fixed_run(out: Path, script: Path, train) -> dict:
    from codeagent.export.stage import export_runs
    from codeagent.run import RunConfig, run_agent
    run_agent(RunConfig(task_set="pyfuncs", split="train", model=f"scripted:{script}", samples=2,
                        only_task_ids=tuple(t.id for t in train), concurrency=1, backend="local", progress=False), out)
    _verify(out)
    digest = {"verdicts": _verdicts(out), "gap": _gap(out)}
    for verifier in ("generated", "heldout", "both"):
        export_runs([out], verifier, "openai", out.parent / f"export_{verifier}", max_per_task=2,
                    eval_sets=["pyfuncs:test"], progress=False)
        digest[f"export_{verifier}"] = _export(out.parent / f"export_{verifier}")
    return digest


def _verify(run_dir: Path) -> None:
    from codeagent.verify import stage
    try:  # the signature after the run-folder redesign: verifiers are part of the config
        cfg = stage.VerifyConfig(verifiers=("generated", "heldout"), backend="local", workers=1, progress=False)
        stage.verify_run(run_dir, cfg)
    except TypeError:
        cfg = stage.VerifyConfig(backend="local", workers=1, progress=False)
        stage.verify_run(run_dir, ("generated", "heldout"), cfg)


def _loop(out: Path, script: Path, train, test) -> dict:
    import codeagent.train.sft as sft
    from codeagent.improve import improve, preset_config

    def fake_train(config):
        """Stands in for TRL (a scripted model has no weights): keeps what it was asked to train on."""
        from codeagent.train.data import load_training_data
        data = load_training_data(config.data)
        config.out.mkdir(parents=True, exist_ok=True)
        (config.out / "training_log.json").write_text(json.dumps(
            {"loss_curve": [[1, 1.0], [2, 0.5]], "n_conversations": len(data.conversations)}))
        return config.out

    import codeagent.models as models
    saved_train, saved_hf = sft.train_sft, models.PREFIXED["hf"]
    sft.train_sft = fake_train
    models.PREFIXED["hf"] = (f"{__name__}:ScriptedCheckpoint", "PATH")
    ScriptedCheckpoint.script = script
    try:
        overrides = dict(task_set="pyfuncs", model=f"scripted:{script}", iterations=2, samples=2,
                         train_tasks=len(train), eval_tasks=len(test), eval_samples=2, backend="local",
                         workers=1, concurrency=2, max_steps=1)
        cfg = preset_config("ci", **overrides)
        metrics = improve(cfg, out)
    finally:
        sft.train_sft, models.PREFIXED["hf"] = saved_train, saved_hf
    digest = {"metrics": [_strip(m, out) for m in metrics]}
    for i in range(2):
        it = out / f"iter_{i}"
        digest[f"iter_{i}"] = {"verdicts": _verdicts(it / "run"), "gap": _gap(it / "run"),
                               "data": _datasheet(it / "data"),
                               "eval_greedy": _verdicts(it / "eval" / "eval_greedy"),
                               "eval_sampled": _verdicts(it / "eval" / "eval_sampled")}
    digest["base_eval_greedy"] = _verdicts(out / "base" / "eval_greedy")
    report = (out / "report.md").read_text()
    digest["report_table"] = [l for l in report.splitlines() if l.startswith("|") and "wall" not in l]
    digest["report_table"] = [_cells_without_wall(l) for l in digest["report_table"]]
    return digest


class ScriptedCheckpoint:
    """`hf:PATH` for a checkpoint the fake trainer wrote: the scripted replies again."""

    script: Path

    def __new__(cls, path, **options):
        from codeagent.models.scripted import ScriptedModel
        return ScriptedModel(cls.script, spec=f"hf:{path}")


# -- digests -------------------------------------------------------------------------------------
def _canonical_verdict(d: dict) -> dict:
    parts = d.get("parts")
    if parts is None:  # the layout before the redesign: one field per verifier
        parts = {k: d[k] for k in ("heldout", "generated") if d.get(k) is not None}
    timings = {k: v for k, v in (d.get("timings") or {}).items() if not k.endswith("_s")}
    # Fields added to a part since the recording are new information, not a changed outcome:
    # the generated part's per-test outcomes (for the HTML report).
    parts = {name: {k: v for k, v in p.items() if (name, k) != ("generated", "per_test")}
             for name, p in parts.items()}
    return {"attempt_id": d["attempt_id"], "task_id": d["task_id"], "parts": parts,
            "hack_flags": sorted(json.dumps(h, sort_keys=True) for h in d.get("hack_flags", [])), "timings": timings}


def _verdicts(run_dir: Path) -> dict:
    path = run_dir / "verdicts.jsonl"
    rows = [json.loads(l) for l in path.read_text().splitlines() if l.strip()] if path.exists() else []
    return {d["attempt_id"]: _canonical_verdict(d) for d in rows}


def _gap(run_dir: Path) -> dict | None:
    path = run_dir / "gap_report.json"
    if not path.exists():
        return None
    report = json.loads(path.read_text())
    report.pop("run", None)
    return report


def _export(folder: Path) -> dict:
    rows = [json.loads(l) for l in (folder / "train.jsonl").read_text().splitlines() if l.strip()]
    dropped = [json.loads(l) for l in (folder / "dropped.jsonl").read_text().splitlines() if l.strip()]
    sheet = _datasheet(folder)
    # a duplicate names the run of the example it duplicates; run ids are random per run
    reasons = [(d["attempt_id"], re.sub(r"^duplicate-of:[^:]+:", "duplicate-of:RUN:", d["reason"])) for d in dropped]
    return {"rows": rows, "dropped": sorted(reasons), "datasheet": sheet}


def _datasheet(folder: Path) -> dict:
    sheet = json.loads((folder / "datasheet.json").read_text())
    for r in sheet.get("runs", []):
        r.pop("path", None)
        r.pop("run_id", None)
    return sheet


def _strip(value, root: Path):
    """A metrics row without wall times, with paths made relative to the loop folder."""
    if isinstance(value, dict):
        return {k: _strip(v, root) for k, v in value.items() if k != "wall_s"}
    if isinstance(value, list):
        return [_strip(v, root) for v in value]
    if isinstance(value, str):
        return value.replace(str(root), "LOOP").split("scripted:")[0] + ("scripted" if "scripted:" in value else "")
    return value


def _cells_without_wall(line: str) -> str:
    cells = line.strip("|").split("|")
    return "|".join(cells[:-1])  # the last column is wall seconds


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
