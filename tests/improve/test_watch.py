"""The collapse watch: on a constructed metrics history it names the reasons, and in a real loop
whose trained model is worse than the base it stops (or discards the model) and the report says why."""

import json

import pytest

from codeagent.errors import UserError
from codeagent.improve.watch import WatchConfig, check, reasons, report_lines
from codeagent.tasks import load_tasks

from loop_harness import loop

WORSE = {"measure": "sampled_pass@1", "diff": -0.3, "low": -0.45, "high": -0.15, "permutation_p": 0.002,
         "verdict": "worse"}
NOISE = dict(WORSE, diff=-0.05, low=-0.2, high=0.1, permutation_p=0.4, verdict="within noise")


def _row(i, vs_base=None, distinct=4.0, distance=0.4):
    e = {"diversity": {"distinct_per_task": distinct, "mean_pairwise_distance": distance}}
    if vs_base:
        e["vs_base"] = vs_base
    return {"iteration": i, "eval": e}


def test_a_constructed_history():
    history = [_row(0), _row(1, NOISE, 3.5, 0.35), _row(2, NOISE, 1.2, 0.05), _row(3, WORSE, 1.0, 0.0)]
    watch = WatchConfig(min_distinct_per_task=1.5, min_distance_ratio=0.25)
    assert check(watch, history[:1]) is None  # the base row alone: nothing to compare
    assert check(watch, history[:2]) is None  # small drift, a change within noise: fine
    found = check(watch, history[:3])
    assert found["action"] == "stop" and len(found["reasons"]) == 2
    assert "distinct solutions per eval task fell to 1.20 (threshold 1.5)" in found["reasons"][0]
    assert "fell to 0.12 x the base model's" in found["reasons"][1]
    last = reasons(watch, history[0], history[3])
    assert last[0].startswith("sampled_pass@1 on the eval split is significantly worse than the base model's: "
                              "-0.300 (95% CI [-0.450, -0.150]")
    # diversity unchecked unless asked; a worse eval trips by default
    assert reasons(WatchConfig(), history[0], history[2]) == []
    assert len(reasons(WatchConfig(), history[0], history[3])) == 1
    assert reasons(WatchConfig(on_worse=False), history[0], history[3]) == []
    history[3]["watch"] = check(WatchConfig(action="keep-previous"), history)
    assert "- iteration 3: this model was discarded" in "\n".join(report_lines(history))
    with pytest.raises(UserError, match="watch.action must be one of stop, keep-previous, warn"):
        WatchConfig(action="panic")


@pytest.mark.slow
@pytest.mark.parametrize("action", ["stop", "keep-previous"])
def test_a_loop_whose_model_got_worse(tmp_path, monkeypatch, action):
    train, test = load_tasks("pyfuncs", "train")[:1], load_tasks("pyfuncs", "test")[:6]
    everything = {t.id for t in train + test}
    cfg, metrics = loop(monkeypatch, tmp_path, train + test, everything, {train[0].id}, iterations=2,
                        train_tasks=1, eval_tasks=6, eval_samples=0, on_collapse=action)
    assert metrics[1]["eval"]["vs_base"]["verdict"] == "worse"
    assert metrics[1]["watch"]["action"] == action
    report = (tmp_path / "loop" / "report.md").read_text()
    assert "Collapse watch:" in report and "pass@1 on the eval split is significantly worse" in report
    if action == "stop":
        assert [m["iteration"] for m in metrics] == [0, 1]  # iteration 2 never ran
        assert not (tmp_path / "loop" / "iter_1").exists()
        assert "- iteration 1: the loop stopped here, because" in report
    else:
        assert [m["iteration"] for m in metrics] == [0, 1, 2]
        assert metrics[2]["trained_from"] == metrics[1]["trained_from"] == cfg.model  # the worse model discarded
    assert json.loads((tmp_path / "loop" / "metrics.json").read_text())[1]["watch"] == metrics[1]["watch"]
