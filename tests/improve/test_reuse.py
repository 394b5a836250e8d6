"""A sweep's loops share the base eval and first run only where the configs agree on what that work
depends on; the copy is whole, recorded, and never overwrites work a folder started itself."""

import json

from codeagent.improve import preset_config
from codeagent.improve.layout import METRICS_FILE
from codeagent.improve.reuse import REUSED_FILE, base_eval_key, first_run_key, reuse


def _finished_loop(folder):
    """The files a loop leaves once its base eval and first run are done."""
    (folder / "base" / "eval_greedy").mkdir(parents=True)
    (folder / "base" / "eval_greedy" / "trajectories.jsonl").write_text('{"attempt_id": "a"}\n')
    (folder / "base" / "eval_greedy.done.json").write_text('{"pass@1": 0.5}')
    (folder / METRICS_FILE).write_text("[]")
    (folder / "iter_0" / "run").mkdir(parents=True)
    (folder / "iter_0" / "run" / "verdicts.jsonl").write_text('{"x": 1}\n')
    for marker in ("run.done.json", "verify.done.json"):
        (folder / "iter_0" / marker).write_text("{}")
    return folder


def test_keys_ignore_what_comes_after_the_first_samples_but_not_the_seed():
    a = preset_config("ci", verifier="heldout", seed=0)
    assert base_eval_key(a) == base_eval_key(preset_config("ci", verifier="generated", lr=1e-3, max_steps=9, seed=0))
    assert first_run_key(a) == first_run_key(preset_config("ci", verifier="generated", lora=False, seed=0))
    assert base_eval_key(a) == base_eval_key(preset_config("ci", verifier="heldout", samples=16, train_tasks=7, seed=0))
    assert first_run_key(a) != first_run_key(preset_config("ci", verifier="heldout", samples=16, seed=0))
    for other in (preset_config("ci", seed=1), preset_config("ci", **{"run.max_tokens": 64}),
                  preset_config("ci", eval_samples=3), preset_config("ci", model="qwen2.5-coder-0.5b")):
        assert base_eval_key(a) != base_eval_key(other)
    assert first_run_key(a) != first_run_key(preset_config("ci", seed=1))


def test_a_matching_finished_donor_is_copied_whole_and_recorded(tmp_path):
    donor = _finished_loop(tmp_path / "heldout")
    cfg = preset_config("ci", verifier="generated")
    taken = reuse(cfg, tmp_path / "generated", [(preset_config("ci", verifier="heldout"), donor)])
    assert [t["work"] for t in taken] == ["base eval", "first run"]
    mine = tmp_path / "generated"
    assert (mine / "base" / "eval_greedy" / "trajectories.jsonl").read_text() == '{"attempt_id": "a"}\n'
    assert (mine / "iter_0" / "verify.done.json").is_file() and (mine / "iter_0" / "run" / "verdicts.jsonl").is_file()
    assert not (mine / METRICS_FILE).exists()  # the loop measures its own base row
    assert json.loads((mine / REUSED_FILE).read_text()) == taken
    assert not list(mine.rglob("*.copying"))
    (mine / "iter_0" / "run" / "verdicts.jsonl").write_text("mine\n")  # a copy, not a link
    assert (donor / "iter_0" / "run" / "verdicts.jsonl").read_text() == '{"x": 1}\n'
    assert reuse(cfg, mine, [(preset_config("ci", verifier="heldout"), donor)]) == []  # already there


def test_no_copy_from_a_different_config_an_unfinished_donor_or_into_started_work(tmp_path):
    donor = _finished_loop(tmp_path / "seed0")
    assert reuse(preset_config("ci", seed=1), tmp_path / "seed1", [(preset_config("ci", seed=0), donor)]) == []
    assert not (tmp_path / "seed1").exists()
    unfinished = _finished_loop(tmp_path / "unfinished")
    (unfinished / METRICS_FILE).unlink()
    (unfinished / "iter_0" / "verify.done.json").unlink()
    assert reuse(preset_config("ci"), tmp_path / "x", [(preset_config("ci"), unfinished)]) == []
    started = tmp_path / "started"
    (started / "iter_0" / "run").mkdir(parents=True)
    taken = reuse(preset_config("ci"), started, [(preset_config("ci"), donor)])
    assert [t["work"] for t in taken] == ["base eval"]  # its own half-done run resumes
    assert not (started / "iter_0" / "run.done.json").exists()


def test_an_out_of_distribution_eval_added_later_is_taken_on_its_own(tmp_path):
    """Loops whose base eval was done before an OOD eval was added share the base model's OOD eval."""
    cfg = preset_config("ci", verifier="generated", ood_eval="humaneval", ood_eval_samples=0)
    donor = _finished_loop(tmp_path / "heldout")
    mine = _finished_loop(tmp_path / "generated")
    donor_cfg = preset_config("ci", verifier="heldout", ood_eval="humaneval", ood_eval_samples=0)
    assert reuse(cfg, mine, [(donor_cfg, donor)]) == []  # the donor has no OOD eval yet
    (donor / "base" / "ood" / "eval_greedy").mkdir(parents=True)
    (donor / "base" / "ood" / "eval_greedy.done.json").write_text('{"pass@1": 0.25}')
    (donor / METRICS_FILE).write_text(json.dumps([{"iteration": 0, "eval": {}, "eval_ood": {"pass@1": 0.25}}]))
    other = preset_config("ci", verifier="heldout", ood_eval="humaneval", ood_eval_samples=2)
    assert reuse(cfg, mine, [(other, donor)]) == []  # sampled differently
    taken = reuse(cfg, mine, [(donor_cfg, donor)])
    assert [t["work"] for t in taken] == ["base out-of-distribution eval"]
    assert (mine / "base" / "ood" / "eval_greedy.done.json").read_text() == '{"pass@1": 0.25}'
    assert (mine / "base" / "eval_greedy" / "trajectories.jsonl").read_text() == '{"attempt_id": "a"}\n'  # its own
