"""A recipe sweep from one spec: settings x verifier modes x seeds, checked before any work, and
summarised with the share of the oracle's gain the generated verifier recovers."""

import json

import pytest

from codeagent.errors import UserError
from codeagent.improve.sweep import SWEEP_FILE, configs, read_spec, run_sweep
from codeagent.tasks import load_tasks

from loop_harness import prepare


def _spec(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


def test_the_shipped_spec_builds_every_config():
    from pathlib import Path
    spec = read_spec(Path(__file__).resolve().parents[2] / "sweeps" / "recipe.yaml")
    planned = configs(spec)
    assert len(planned) == len(spec["settings"]) * 2
    assert planned[("full-finetune", "generated")].train.lora is False
    assert planned[("lora-16-samples", "heldout")].run.samples == 16
    assert planned[("lora-8-samples", "heldout")].eval.ood_set == "humaneval"


@pytest.mark.parametrize("text,message", [
    ("settings: {a: {}}\ncolour: red\n", r"unknown key\(s\) \['colour'\]"),
    ("settings: []\n", "'settings' must map each setting's name"),
    ("seeds: [0, x]\nsettings: {a: {}}\n", "'seeds' must be a list of integers"),
    ("settings: {a: {lernrate: 1}}\n", "setting 'a', verifier 'heldout': unknown improve option 'lernrate'"),
])
def test_bad_specs_fail_naming_the_field(tmp_path, text, message):
    with pytest.raises(UserError, match=message):
        configs(read_spec(_spec(tmp_path, text)))


@pytest.mark.slow
def test_a_tiny_sweep(tmp_path, monkeypatch):
    train, test = load_tasks("pyfuncs", "train")[:1], load_tasks("pyfuncs", "test")[:4]
    cfg = prepare(monkeypatch, tmp_path / "setup", train + test, {train[0].id}, {train[0].id, test[0].id, test[1].id})
    spec = _spec(tmp_path, json.dumps({
        "preset": "ci", "seeds": [0], "verifiers": ["heldout", "generated"],
        "options": {"task_set": "pyfuncs", "model": cfg.model, "iterations": 1, "samples": 2, "train_tasks": 1,
                    "eval_tasks": 4, "eval_samples": 0, "backend": "local", "workers": 1, "concurrency": 4,
                    "max_steps": 1},
        "settings": {"two-per-task": {"max_per_task": 2}}}))
    rows = run_sweep(spec, tmp_path / "sweep")
    assert rows == json.loads((tmp_path / "sweep" / SWEEP_FILE).read_text())
    by_mode = {r["verifier"]: r for r in rows}
    assert by_mode["heldout"]["eval"]["diffs"] == [0.5]
    # both modes accepted the same train attempts, so the generated mode recovers all of the gain
    assert by_mode["generated"]["recovered"]["per_seed"][0]["estimate"] == 1.0
    # the generated mode took the held-out mode's base eval and first samples instead of redoing them
    held, gen = (tmp_path / "sweep" / "two-per-task" / v / "seed_0" for v in ("heldout", "generated"))
    assert [r["work"] for r in json.loads((gen / "reused.json").read_text())] == ["base eval", "first run"]
    assert not (held / "reused.json").exists()
    for f in ("base/eval_greedy/trajectories.jsonl", "iter_0/run/trajectories.jsonl"):
        assert (gen / f).read_text() == (held / f).read_text()
    report = (tmp_path / "sweep" / "sweep.md").read_text()
    assert "| two-per-task | generated | 1 | pass@1 | +0.500 ± n/a | within noise 1 | 1.00 [1.00, 1.00] |" in report
