"""A loop folder remembers its config: resuming needs the same options, except that
--iterations may grow to continue a finished loop."""

import json

import pytest

from codeagent.errors import UserError
from codeagent.improve import preset_config
from codeagent.improve.loop import CONFIG_FILE, _check_config


def test_same_config_resumes_and_a_different_one_is_refused(tmp_path):
    _check_config(preset_config("ci"), tmp_path)
    _check_config(preset_config("ci"), tmp_path)
    with pytest.raises(UserError, match=r"different config .*'run.seed': \(0, 5\)"):
        _check_config(preset_config("ci", seed=5), tmp_path)


def test_iterations_may_grow_but_not_shrink(tmp_path):
    _check_config(preset_config("ci", iterations=2), tmp_path)
    _check_config(preset_config("ci", iterations=3), tmp_path)
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["iterations"] == 3
    with pytest.raises(UserError, match="--iterations 3"):
        _check_config(preset_config("ci", iterations=2), tmp_path)


def test_options_added_since_a_loop_was_written_resume_at_their_default(tmp_path):
    """A loop folder from before an option existed resumes while the option stays at its default."""
    _check_config(preset_config("ci"), tmp_path)
    recorded = json.loads((tmp_path / CONFIG_FILE).read_text())
    del recorded["verify"]["mutation"], recorded["verify"]["min_cluster_size"], recorded["test_model"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(recorded))
    _check_config(preset_config("ci"), tmp_path)
    with pytest.raises(UserError, match="verify.mutation"):
        _check_config(preset_config("ci", mutation="filter"), tmp_path)
