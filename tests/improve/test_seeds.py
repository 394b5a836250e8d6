"""Several seeds of a loop, aggregated, and two loops compared seed by seed."""

import json
import subprocess
import sys

import pytest

from codeagent.errors import UserError
from codeagent.improve.layout import seed_folder
from codeagent.improve.seeds import SEEDS_FILE, aggregate, compare_seeded, improve_seeds, markdown
from codeagent.stats import paired_difference
from codeagent.tasks import load_tasks

from loop_harness import prepare


def _row(i: int, solved: dict[str, int], base: dict[str, int] | None, samples: int = 4) -> dict:
    """A metrics row whose sampled eval solved solved[t] of `samples` per task; vs_base as the loop writes it."""
    e = {"measure": "sampled_pass@1", "per_task": {"sampled": {t: [samples, c] for t, c in solved.items()}}}
    if base is not None:
        rate = lambda d: {t: c / samples for t, c in d.items()}  # noqa: E731
        e["vs_base"] = {"measure": "sampled_pass@1", **paired_difference(rate(base), rate(solved)).to_dict()}
    return {"iteration": i, "eval": e}


def _loop(folder, per_iteration: list[dict[str, int]]):
    folder.mkdir(parents=True)
    rows = [_row(i, s, per_iteration[0] if i else None) for i, s in enumerate(per_iteration)]
    (folder / "metrics.json").write_text(json.dumps(rows))


TASKS = [f"t{i}" for i in range(10)]


def test_aggregate_gives_mean_and_sd_of_the_paired_difference(tmp_path):
    zero = {t: 0 for t in TASKS}
    _loop(seed_folder(tmp_path, 0), [zero, {t: 2 for t in TASKS}, {t: 4 for t in TASKS}])  # +0.5, +1.0
    _loop(seed_folder(tmp_path, 1), [zero, {t: 1 for t in TASKS}, dict(zero, t0=1)])  # +0.25, +0.025
    rows = aggregate([seed_folder(tmp_path, 0), seed_folder(tmp_path, 1)])
    assert [r["iteration"] for r in rows] == [1, 2]
    first = rows[0]["eval"]
    assert first["diffs"] == [0.5, 0.25] and first["diff_mean"] == pytest.approx(0.375)
    assert first["diff_sd"] == pytest.approx(0.1768, abs=1e-4) and first["verdicts"] == {"improved": 2}
    assert rows[1]["eval"]["verdicts"] == {"improved": 1, "within noise": 1}
    text = markdown(rows, "x")
    assert "| 1 | sampled_pass@1 | 2 | +0.375 ± 0.177 | +0.500 +0.250 | improved 2 |" in text


def test_compare_two_seeded_loops(tmp_path):
    base = {t: 1 for t in TASKS}
    for seed, gain in ((0, 2), (1, 3)):
        _loop(seed_folder(tmp_path / "generated", seed), [base, {t: 2 for t in TASKS}])
        _loop(seed_folder(tmp_path / "heldout", seed), [base, {t: 1 + gain for t in TASKS}])
    _loop(seed_folder(tmp_path / "heldout", 7), [base, base])  # a seed only one loop has: left out
    rows = compare_seeded(tmp_path / "generated", tmp_path / "heldout")
    assert rows[0]["eval"]["diffs"] == [0.0, 0.0]
    assert rows[1]["eval"]["diffs"] == [0.25, 0.5] and rows[1]["eval"]["diff_mean"] == pytest.approx(0.375)
    cli = subprocess.run([sys.executable, "-m", "codeagent", "compare", str(tmp_path / "generated"),
                          str(tmp_path / "heldout")], capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert "Paired difference heldout - generated, eval split" in cli.stdout
    assert "| 1 | sampled_pass@1 | 2 | +0.375 ± 0.177 |" in cli.stdout
    _loop(seed_folder(tmp_path / "other", 5), [base, base])
    with pytest.raises(UserError, match="share no seed"):
        compare_seeded(tmp_path / "generated", tmp_path / "other")


def test_seeds_must_be_distinct(tmp_path):
    from codeagent.improve import preset_config
    with pytest.raises(UserError, match="distinct"):
        improve_seeds(preset_config("ci"), [1, 1], tmp_path)


@pytest.mark.slow
def test_improve_with_two_seeds(tmp_path, monkeypatch, capsys):
    """`codeagent improve --seeds 0,3`, in-process: a real loop per seed (scripted model, local
    sandboxes, the harness's fake trainer), aggregated and printed."""
    from codeagent.cli import main
    train, test = load_tasks("pyfuncs", "train")[:1], load_tasks("pyfuncs", "test")[:2]
    cfg = prepare(monkeypatch, tmp_path / "setup", train + test, {train[0].id}, {train[0].id, test[0].id})
    out = tmp_path / "seeds"
    assert main(["improve", "--preset", "ci", "--task-set", "pyfuncs", "--model", cfg.model, "--iterations", "1",
                 "--samples", "2", "--train-tasks", "1", "--eval-tasks", "2", "--eval-samples", "0",
                 "--backend", "local", "--workers", "1", "--concurrency", "4", "--max-steps", "1",
                 "--seeds", "0,3", "--out", str(out)]) == 0
    for s in (0, 3):
        config = json.loads((seed_folder(out, s) / "improve_config.json").read_text())
        assert config["run"]["seed"] == s and config["train"]["seed"] == s
        assert "| sampled pass@1" not in (seed_folder(out, s) / "report.md").read_text()  # greedy only here
    rows = json.loads((out / SEEDS_FILE).read_text())
    assert rows[0]["eval"]["n_seeds"] == 2 and rows[0]["eval"]["diffs"] == [0.5, 0.5]
    assert rows[0]["eval"]["measure"] == "pass@1"  # eval_samples=0: greedy only
    printed = capsys.readouterr().out
    assert "Paired difference vs base, eval split" in printed and "| 1 | pass@1 | 2 | +0.500 ± 0.000 |" in printed


@pytest.mark.parametrize("args,message", [(["--seeds", "0,x"], "expected integers separated by commas"),
                                          (["--seeds", "0,1", "--seed", "2"], "either --seed or --seeds")])
def test_seeds_option_errors(tmp_path, args, message):
    r = subprocess.run([sys.executable, "-m", "codeagent", "improve", "--preset", "ci", *args, "--out",
                        str(tmp_path / "x")], capture_output=True, text=True)
    assert r.returncode != 0 and message in r.stderr, r.stderr
