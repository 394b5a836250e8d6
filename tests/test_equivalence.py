"""The run-folder redesign changed no outcome: the fixed scenario of `equivalence_scenario.py`
(verify + export of a scripted run, and a 2-iteration improve loop) gives today the digest
recorded on the code before it — the same verdicts, gap report, exported data and metrics."""

import json

import pytest

from equivalence_scenario import FIXTURE, run_scenario

pytestmark = pytest.mark.slow


def _diff(expected, actual, path=""):
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k in sorted(set(expected) | set(actual)):
            if k not in actual or k not in expected:
                return f"{path}/{k}: {'missing' if k not in actual else 'unexpected'}"
            found = _diff(expected[k], actual[k], f"{path}/{k}")
            if found:
                return found
        return None
    return None if expected == actual else f"{path}: expected {expected!r}, got {actual!r}"


def test_outputs_identical_to_the_recorded_digest(tmp_path):
    expected = json.loads(FIXTURE.read_text())
    actual = json.loads(json.dumps(run_scenario(tmp_path)))
    assert _diff(expected, actual) is None, _diff(expected, actual)
