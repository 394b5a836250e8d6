"""The loop's eval figures carry their uncertainty: per-task results, the 95% interval of pass@1,
and the paired difference to the base model with its verdict, in metrics.json, report.md and the
learning curve. A real one-iteration loop (scripted model, local sandboxes, fake trainer) whose
trained model solves more eval tasks than the base model, and the same on constructed folders."""

import json

import pytest

from codeagent.improve.layout import eval_folder
from codeagent.improve.measure import measured
from codeagent.improve.report import group_lines, print_table
from codeagent.runfolder import RunFolder
from codeagent.tasks import load_tasks

from loop_harness import loop
from test_paired import _verdicts


def _sampled(folder, outcomes):
    """Like test_paired's greedy helper, for the sampled run."""
    greedy = _verdicts(folder, outcomes)
    sampled = greedy.with_name("eval_sampled")
    greedy.rename(sampled)
    (folder / "eval_greedy.done.json").rename(folder / "eval_sampled.done.json")
    _verdicts(folder, {t: a[:1] for t, a in outcomes.items()})


def test_measured_figures_on_constructed_evals(tmp_path):
    tasks = [f"t{i}" for i in range(12)]
    base, new = eval_folder(tmp_path, 0), eval_folder(tmp_path, 1)
    _sampled(base, {t: [(False, False)] * 4 for t in tasks})
    # the trained model: 3 of 4 samples right on 9 tasks, one passing sample flagged as a hack
    _sampled(new, {t: [(True, False)] * 3 + [(i == 0, i == 0)] if i < 9 else [(False, False)] * 4
                   for i, t in enumerate(tasks)})
    b = measured({"pass@1": 0.0, "sampled_pass@1": 0.0}, base)
    assert b["measure"] == "sampled_pass@1" and "vs_base" not in b
    assert b["per_task"]["sampled"]["t0"] == [4, 0] and b["sampled_pass@1_ci"] == [0.0, 0.0]
    n = measured({"pass@1": 0.75, "sampled_pass@1": 0.5625}, new, base=b)
    assert n["per_task"]["sampled"]["t0"] == [4, 3]  # the hack-flagged pass does not count
    d = n["vs_base"]
    assert d["measure"] == "sampled_pass@1" and d["diff"] == pytest.approx(9 * 0.75 / 12, abs=1e-4)
    assert d["verdict"] == "improved" and 0 < d["low"] <= d["diff"] <= d["high"]
    assert (d["gained"], d["lost"]) == (9, 0) and d["sign_test_p"] == pytest.approx(2 / 2 ** 9, abs=1e-4)
    assert n["vs_base_greedy"]["measure"] == "pass@1" and n["vs_base_greedy"]["gained"] == 9


def test_a_repository_eval_is_measured_per_held_out_group(tmp_path):
    # 12 held-out functions that do not move, 10 tasks of the held-out library that all do.
    groups = {**{f"f{i}": "function" for i in range(12)}, **{f"l{i}": "library" for i in range(10)}}
    base, new = eval_folder(tmp_path, 0), eval_folder(tmp_path, 1)
    _sampled(base, {t: [(i % 2 == 0, False)] + [(False, False)] * 3 for i, t in enumerate(groups)})
    _sampled(new, {t: [(i % 2 == 0, False)] + [(t.startswith("l"), False)] * 3 for i, t in enumerate(groups)})
    b = measured({"pass@1": 0.5, "sampled_pass@1": 0.125}, base, groups=groups)
    n = measured({"pass@1": 0.5, "sampled_pass@1": 0.47}, new, base=b, groups=groups)
    lib, fun = n["by_group"]["library"], n["by_group"]["function"]
    assert (lib["n_tasks"], fun["n_tasks"]) == (10, 12) and lib["measure"] == "sampled_pass@1"
    assert fun["sampled_pass@1"] == pytest.approx(0.125) and fun["vs_base"]["diff"] == 0.0
    assert fun["vs_base"]["verdict"] == "within noise" and (fun["vs_base"]["gained"], fun["vs_base"]["lost"]) == (0, 0)
    assert lib["vs_base"]["diff"] == pytest.approx(0.75) and lib["vs_base"]["verdict"] == "improved"
    assert lib["sampled_pass@1_ci"][0] > fun["sampled_pass@1_ci"][1]
    assert "vs_base" not in b["by_group"]["library"] and b["by_group"]["library"]["n_tasks"] == 10
    lines = group_lines([{"iteration": 0, "eval": b}, {"iteration": 1, "eval": n}])
    assert lines[-1].startswith("| 1 | held-out library | 10 | 0.875 [") and lines[-1].endswith("| improved |")
    assert lines[-2].startswith("| 1 | held-out functions | 12 |") and lines[-2].endswith("| within noise |")
    assert lines[-3].startswith("| 0 | held-out library | 10 |") and lines[-3].endswith("| - | - |")
    # One group only (pyfuncs: no task says what it holds out) adds nothing.
    assert "by_group" not in measured({"pass@1": 0.5}, new, base=b, groups={t: "function" for t in groups})
    assert "by_group" not in measured({"pass@1": 0.5}, new, base=b, groups={})


@pytest.mark.slow
def test_a_loop_reports_intervals_and_the_verdict(tmp_path, monkeypatch, capsys):
    train = load_tasks("pyfuncs", "train")[:2]
    test = load_tasks("pyfuncs", "test")[:8]
    ood = load_tasks("humaneval", "test")[:2]
    solved_by_base = {t.id for t in train} | {test[0].id}  # it solves its train tasks: data to train on
    solved_by_trained = {t.id for t in train + test[:7] + ood[:1]}
    cfg, metrics = loop(monkeypatch, tmp_path, train + test + ood, solved_by_base, solved_by_trained,
                        train_tasks=2, eval_tasks=8, eval_samples=2, ood_eval="humaneval", ood_eval_tasks=2,
                        ood_eval_samples=0,
                        test_model=f"scripted:{tmp_path / 'trained.json'}", mutation="report")
    base, last = metrics[0], metrics[-1]
    assert base["eval"]["sampled_pass@1"] == pytest.approx(1 / 8, abs=1e-3)
    assert base["eval"]["per_task"]["sampled"][test[0].id] == [2, 2]
    # the collapse watch's diversity, of the sampled eval (a scripted model repeats itself exactly)
    assert base["eval"]["diversity"] == {"distinct_per_task": 1.0, "mean_pairwise_distance": 0.0}
    d = last["eval"]["vs_base"]
    assert (d["gained"], d["lost"], d["n_tasks"]) == (6, 0, 8)
    assert d["diff"] == pytest.approx(0.75, abs=1e-4) and d["permutation_p"] == pytest.approx(2 / 64, abs=1e-4)
    assert d["verdict"] == "improved"
    assert last["eval_ood"]["vs_base"]["n_tasks"] == 2 and last["eval_ood"]["vs_base"]["gained"] == 1
    assert last["eval_ood"]["vs_base"]["verdict"] == "within noise"  # one task of two: no resolution
    assert last["eval_ood"]["vs_base"]["measure"] == "pass@1" and "sampled_pass@1" not in last["eval_ood"]  # greedy only
    on_disk = json.loads((tmp_path / "loop" / "metrics.json").read_text())
    assert on_disk[-1]["eval"]["vs_base"] == d and on_disk[0]["eval"]["sampled_pass@1_ci"][0] == 0.0
    report = (tmp_path / "loop" / "report.md").read_text()
    assert "| sampled pass@1 [95% CI] | Δ vs base [95% CI] | verdict |" in report
    assert "**Iteration 1 vs base, eval split: improved: sampled pass@1 +0.750 vs base (95% CI [+" in report
    assert "out-of-distribution set: within noise: pass@1 +0.500 vs base" in report
    assert "Out-of-distribution eval (`humaneval`, 2 tasks)" in report
    assert (tmp_path / "loop" / "learning_curve.png").stat().st_size > 1000
    capsys.readouterr()
    print_table(cfg, metrics, tmp_path / "loop")  # the final table of `codeagent improve`
    table = capsys.readouterr().out
    assert "Δ vs" in table and "+0.750" in table and "improved" in table  # (rich wraps narrow columns)
    # the separate test writer wrote the generated tests; their adequacy was measured
    written = RunFolder(tmp_path / "loop" / "iter_0" / "run").generated_tests()
    assert {g.model for g in written.values()} == {f"scripted:{tmp_path / 'trained.json'}"}
    assert last["verifier"]["mutation_tasks"] == 2 and 0 < last["verifier"]["mutation_score"] <= 1

    # Rerunning the finished loop rereads every figure and starts no model (no server start-up
    # for work already done: a resumed or reused base eval included).
    from codeagent.improve import improve
    from codeagent.improve.engine import Serving

    def no_model(self, spec):
        raise AssertionError(f"a finished loop asked for {spec}")
    monkeypatch.setattr(Serving, "use", no_model)
    again = improve(cfg, tmp_path / "loop")
    assert again[-1]["eval"]["vs_base"] == d and again[0]["eval"]["sampled_pass@1"] == base["eval"]["sampled_pass@1"]


def test_the_repository_set_splits_its_eval_into_held_out_functions_and_library():
    from codeagent.improve.config import ImproveConfig
    from codeagent.improve.loop import eval_groups
    groups = eval_groups(ImproveConfig(task_set="pyrepos"), "test")
    tasks = load_tasks("pyrepos", "test")
    assert set(groups) == {t.id for t in tasks}
    assert {t.id for t in tasks if t.metadata["source"] == "inflection"} == {t for t, g in groups.items() if g == "library"}
    assert sorted(set(groups.values())) == ["function", "library"]
    assert eval_groups(ImproveConfig(task_set="pyfuncs"), "test") == {}
