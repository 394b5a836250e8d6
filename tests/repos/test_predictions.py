"""SWE-bench predictions (`instance_id`, `model_patch`) graded on repository tasks."""

from __future__ import annotations

import json

import pytest

from codeagent.errors import UserError
from codeagent.repos.predictions import evaluate_predictions, read_predictions

from repo_fixtures import reference_patch, tiny_task


def _tasks():
    fixed, broken = tiny_task(), tiny_task()
    broken.id = "tiny/other"
    for t, level in ((fixed, 1), (broken, 3)):
        t.metadata.update(level=level, strategy="change_return")
    return [fixed, broken]


@pytest.mark.docker
@pytest.mark.slow
def test_predictions_are_counted_like_the_swebench_harness_and_resume(tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "tiny__clamp", "model_patch": reference_patch()}) + "\n"
                     + json.dumps({"instance_id": "tiny/other", "model_patch": ""}) + "\n")
    tasks = _tasks()
    s = evaluate_predictions(tasks, read_predictions(preds, tasks), tmp_path / "out", backend="docker")
    assert (s["instances"], s["resolved"]) == (2, 1)
    assert s["fail_to_pass"] == {"passed": 1, "total": 2} and s["pass_to_pass"] == {"passed": 8, "total": 8}
    assert s["by_level"] == {"1": {"resolved": 1, "instances": 1}, "3": {"resolved": 0, "instances": 1}}
    # A rerun grades nothing again: the results file is read back.
    lines = (tmp_path / "out" / "results.jsonl").read_text().splitlines()
    again = evaluate_predictions(tasks, read_predictions(preds, tasks), tmp_path / "out", backend="docker")
    assert again == s and (tmp_path / "out" / "results.jsonl").read_text().splitlines() == lines


def test_an_unknown_instance_is_named(tmp_path):
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps({"instance_id": "nope", "model_patch": ""}) + "\n")
    with pytest.raises(UserError, match=r"preds.jsonl:1: instance 'nope' is not a task of this set"):
        read_predictions(preds, _tasks())


def test_run_trajectories_read_as_one_prediction_per_attempt(tmp_path):
    """A run's trajectories.jsonl: `task_id`, `sample_index`, `patch` (several attempts per task)."""
    runs = tmp_path / "trajectories.jsonl"
    runs.write_text("".join(json.dumps({"task_id": "tiny/clamp", "sample_index": k, "patch": p, "agent": "bash"}) + "\n"
                            for k, p in ((1, reference_patch()), (0, ""))))
    assert read_predictions(runs, _tasks()) == {"tiny/clamp#1": reference_patch(), "tiny/clamp#0": ""}
