"""Presets are a registry: each one builds a valid config and the CLI offers exactly those."""

import subprocess
import sys

import pytest

from codeagent.errors import UserError
from codeagent.improve import PRESETS, preset_config


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_valid_config(name):
    cfg = preset_config(name, verifier="heldout")
    assert cfg.verifier == "heldout"
    for key, value in PRESETS[name].items():
        assert getattr(cfg, key) == value


def test_overrides_win_and_none_keeps_the_preset():
    cfg = preset_config("full-cpu", samples=2, eval_tasks=None)
    assert cfg.samples == 2 and cfg.eval_tasks is None and cfg.max_steps == PRESETS["full-cpu"]["max_steps"]


def test_unknown_preset_is_a_clear_error():
    with pytest.raises(UserError, match="unknown preset 'huge'.*quick"):
        preset_config("huge")


def test_cli_offers_every_preset():
    help_text = subprocess.run([sys.executable, "-m", "codeagent", "improve", "--help"], capture_output=True,
                               text=True, check=True).stdout
    for name in PRESETS:
        assert name in help_text
