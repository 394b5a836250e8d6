"""Presets are a registry: each one builds a valid config and the CLI offers exactly those.
The loop's config holds the stage configs; presets and overrides set nested fields."""

import subprocess
import sys
from functools import reduce

import pytest

from codeagent.errors import UserError
from codeagent.improve import PRESETS, preset_config
from codeagent.run import RunConfig
from codeagent.train.config import TrainConfig
from codeagent.verify.stage import VerifyConfig


def _get(cfg, path):
    return reduce(getattr, path.split("."), cfg)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_valid_config(name):
    cfg = preset_config(name, verifier="heldout")
    assert cfg.verifier == "heldout"
    for key, value in PRESETS[name].items():
        assert _get(cfg, key) == value


def test_the_loop_config_holds_the_stage_configs():
    cfg = preset_config("quick")
    assert isinstance(cfg.run, RunConfig) and isinstance(cfg.verify, VerifyConfig) and isinstance(cfg.train, TrainConfig)
    assert "task_set" not in cfg.to_dict()["run"] and "data" not in cfg.to_dict()["train"]  # filled by the loop


def test_overrides_win_and_none_keeps_the_preset():
    cfg = preset_config("full-cpu", samples=2, eval_tasks=None)
    assert cfg.run.samples == 2 and cfg.eval.max_tasks is None
    assert cfg.train.max_steps == PRESETS["full-cpu"]["train.max_steps"]


def test_shared_options_set_every_stage_and_dotted_ones_one_field():
    cfg = preset_config("ci", backend="local", seed=7, **{"train.lr": 1e-4, "run.temperature": 0.5})
    assert cfg.run.backend == cfg.verify.backend == "local"
    assert cfg.run.seed == cfg.train.seed == 7
    assert cfg.train.lr == 1e-4 and cfg.run.temperature == 0.5


def test_unknown_preset_or_field_is_a_clear_error():
    with pytest.raises(UserError, match="unknown preset 'huge'.*quick"):
        preset_config("huge")
    with pytest.raises(UserError, match=r"unknown improve option 'train.lrr'.*lr"):
        preset_config("ci", **{"train.lrr": 1})
    with pytest.raises(UserError, match=r"unknown improve option 'run.model'"):  # the loop sets it
        preset_config("ci", **{"run.model": "x"})


def test_cli_offers_every_preset():
    help_text = subprocess.run([sys.executable, "-m", "codeagent", "improve", "--help"], capture_output=True,
                               text=True, check=True).stdout
    for name in PRESETS:
        assert name in help_text
