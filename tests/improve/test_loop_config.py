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
    del recorded["run"]["model_options"]  # a field whose default is an empty dict
    (tmp_path / CONFIG_FILE).write_text(json.dumps(recorded))
    _check_config(preset_config("ci"), tmp_path)
    with pytest.raises(UserError, match="verify.mutation"):
        _check_config(preset_config("ci", mutation="filter"), tmp_path)


def _rows(folder, iterations_done):
    (folder / "metrics.json").write_text(json.dumps([{"iteration": i} for i in range(iterations_done + 1)]))


def test_an_out_of_distribution_eval_may_be_added_while_no_later_iteration_depends_on_it(tmp_path):
    """Adding an OOD eval only adds evals, but the collapse watch reads it: allowed while at most one
    iteration is done (or the watch only warns); changing an OOD eval once set is refused."""
    one, two, warned = tmp_path / "one", tmp_path / "two", tmp_path / "warned"
    for folder, done, action in ((one, 1, "stop"), (two, 2, "stop"), (warned, 2, "warn")):
        folder.mkdir()
        _check_config(preset_config("ci", on_collapse=action), folder)
        _rows(folder, done)
    _check_config(preset_config("ci", ood_eval="humaneval", ood_eval_samples=0), one)
    assert json.loads((one / CONFIG_FILE).read_text())["eval"]["ood_set"] == "humaneval"
    with pytest.raises(UserError, match="ood_samples"):
        _check_config(preset_config("ci", ood_eval="humaneval", ood_eval_samples=4), one)
    with pytest.raises(UserError, match="at most one iteration"):
        _check_config(preset_config("ci", ood_eval="humaneval"), two)
    with pytest.raises(UserError, match="different config"):  # other changes are refused as before
        _check_config(preset_config("ci", ood_eval="humaneval", seed=3), two)
    _check_config(preset_config("ci", ood_eval="humaneval", on_collapse="warn"), warned)
