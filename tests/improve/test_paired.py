"""Paired reading of eval results: tasks gained/lost against the base model and the sign test."""

import json
import subprocess
import sys
from math import comb

import pytest

from codeagent.improve.layout import eval_folder
from codeagent.improve.paired import compare_loops, greedy_solved, sign_test_p, solved_counts, versus_base
from codeagent.runfolder import RunFolder
from codeagent.verify.record import HackFlag, HeldoutVerdict, Verdict


def _verdicts(folder, outcomes):
    """outcomes: task id -> list of (passed, hack_flagged) per attempt. Returns the eval run folder."""
    run = RunFolder(folder / "eval_greedy")
    with run.verdicts_writer() as out:
        for t, attempts in outcomes.items():
            for k, (ok, hack) in enumerate(attempts):
                part = HeldoutVerdict(passed=ok, n_pass=int(ok), n_total=1, per_test={})
                out.append(Verdict(f"{t}#{k}", t, parts={"heldout": part},
                                   hack_flags=[HackFlag("always-equal", "x")] if hack else []).to_dict())
    (folder / "eval_greedy.done.json").write_text("{}")
    return run.path


@pytest.mark.parametrize("gained,lost,expected", [
    (0, 0, 1.0), (5, 0, 2 / 32), (0, 5, 2 / 32), (3, 3, 1.0),
    (10, 2, 2 * sum(comb(12, k) for k in range(3)) / 2 ** 12),
])
def test_sign_test_matches_the_binomial(gained, lost, expected):
    assert sign_test_p(gained, lost) == pytest.approx(expected)


def test_counts_ignore_hack_flagged_passes(tmp_path):
    path = _verdicts(tmp_path, {"a": [(True, False), (False, False)], "b": [(True, True)], "c": [(False, False)]})
    assert solved_counts(path) == {"a": (2, 1), "b": (1, 0), "c": (1, 0)}


def test_versus_base_counts_tasks_gained_and_lost(tmp_path):
    _verdicts(eval_folder(tmp_path, 0), {"a": [(True, False)], "b": [(True, False)], "c": [(False, False)],
                                         "d": [(False, False)]})
    _verdicts(eval_folder(tmp_path, 1), {"a": [(True, False)], "b": [(False, False)], "c": [(True, False)],
                                         "d": [(True, False)]})
    assert greedy_solved(tmp_path, 1) == {"a", "c", "d"}
    assert versus_base(tmp_path, 1) == {"gained": 2, "lost": 1, "p": 1.0}
    assert versus_base(tmp_path, 0) is None
    assert versus_base(tmp_path, 2) is None  # not evaluated (yet)


def test_an_unfinished_eval_is_not_read(tmp_path):
    _verdicts(eval_folder(tmp_path, 0), {"a": [(True, False)]})
    (eval_folder(tmp_path, 0) / "eval_greedy.done.json").unlink()
    assert greedy_solved(tmp_path, 0) is None


def test_two_loops_side_by_side(tmp_path):
    a, b = tmp_path / "generated", tmp_path / "heldout"
    for loop in (a, b):
        _verdicts(eval_folder(loop, 0), {"t1": [(True, False)], "t2": [(False, False)], "t3": [(False, False)]})
    _verdicts(eval_folder(a, 1), {"t1": [(True, False)], "t2": [(False, False)], "t3": [(False, False)]})
    _verdicts(eval_folder(b, 1), {"t1": [(False, False)], "t2": [(True, False)], "t3": [(True, False)]})
    rows = compare_loops(a, b)
    assert rows == [{"iteration": 0, "solved_a": 1, "solved_b": 1, "only_a": 0, "only_b": 0, "p": 1.0},
                    {"iteration": 1, "solved_a": 1, "solved_b": 2, "only_a": 1, "only_b": 2, "p": 1.0}]
    cli = subprocess.run([sys.executable, "-m", "codeagent", "compare", str(a), str(b)], capture_output=True,
                         text=True)
    assert cli.returncode == 0, cli.stderr
    assert "| 1 | 1 | 2 | 1 | 2 | 1.000 |" in cli.stdout
    for loop, rates in ((a, [0.33, 0.33]), (b, [0.33, 0.67])):
        (loop / "metrics.json").write_text(json.dumps(
            [{"iteration": i, "eval": {"pass@1": r}, "verifier": {"train_solve_rate": 0.5} if i else {}}
             for i, r in enumerate(rates)]))
    png = tmp_path / "curves.png"
    plotted = subprocess.run([sys.executable, "-m", "codeagent", "compare", str(a), str(b), "--plot", str(png)],
                             capture_output=True, text=True)
    assert plotted.returncode == 0, plotted.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    missing = subprocess.run([sys.executable, "-m", "codeagent", "compare", str(a), str(tmp_path / "nope")],
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "no greedy eval" in missing.stderr
