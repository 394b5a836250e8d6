"""Test adequacy by mutants: mechanical mutants of a solution, and the generated verifier's use of
them — a weak generated test set (kills no mutant) and a strong one on the same task and attempts."""

import ast
import difflib

import pytest

from codeagent.runfolder import RunFolder
from codeagent.verify.mutation import mutants
from codeagent.verify.stage import VerifyConfig, verify_run

from verify_fixtures import write_generated_tests, write_run

SOURCE = '''def clamp_sum(xs, k):
    total = 0
    for x in xs:
        if x > k and not x == 3:
            total += x
        else:
            total -= 1
    return total * 2
'''


def test_mutants_change_one_site_each_and_compile():
    made = mutants(SOURCE, limit=50)
    kinds = {m.kind for m in made}
    assert kinds == {"operator", "off-by-one", "drop-branch"}
    original = ast.unparse(ast.parse(SOURCE))
    for m in made:
        compile(m.source, "m", "exec")
        assert ast.unparse(ast.parse(m.source)) != original
    sources = {m.source for m in made}
    assert "total -= x" in "".join(sources) and "x >= k" in "".join(sources)  # flipped operators
    assert "total = 1" in "".join(sources)  # off by one
    assert any("else" not in s for s in sources)  # a dropped branch
    assert len(sources) == len(made)  # one site each, no duplicates
    assert mutants(SOURCE, limit=50) == made  # deterministic
    assert len(mutants(SOURCE, limit=3)) == 3
    assert mutants("def f(:\n") == []
    assert mutants("def f(x):\n    return x\n") == []  # nothing to mutate


REFERENCE = "def is_odd(n: int) -> bool:\n    return n & 1 == 1\n"
SAME = "def is_odd(n: int) -> bool:\n    return n % 2 != 0\n"
WRONG = "def is_odd(n: int) -> bool:\n    return n > 5\n"
WEAK = ["def test_gen_0():\n    assert isinstance(is_odd(3), bool)\n",
        "def test_gen_1():\n    assert is_odd(8) in (True, False)\n"]
STRONG = ["def test_gen_0():\n    assert is_odd(-3) == True\n", "def test_gen_1():\n    assert is_odd(4) == False\n",
          "def test_gen_2():\n    assert is_odd(7) == True\n", "def test_gen_3():\n    assert is_odd(0) == False\n"]


def _verified(tmp_path, name, tests, mode):
    """One task, three attempts: the reference, another right one, a wrong one."""
    from codeagent.tasks import load_tasks, tasks_by_id
    task = tasks_by_id(load_tasks("pyfuncs", "train"))["pyfuncs/bit_is_odd"]
    run = tmp_path / name
    patches = []
    stub = task.repo_files[task.prompt_file]
    for source in (REFERENCE, SAME, WRONG):
        patches.append((task.id, "".join(difflib.unified_diff(stub.splitlines(True), source.splitlines(True),
                                                              f"a/{task.prompt_file}", f"b/{task.prompt_file}"))))
    write_run(run, patches, task_set="pyfuncs", split="train")
    write_generated_tests(run, {task.id: tests})
    result = verify_run(run, VerifyConfig(verifiers=("generated", "heldout"), backend="local", workers=1,
                                          progress=False, mutation=mode, cache_dir=tmp_path / "cache"))
    verdicts = sorted(RunFolder(run).verdicts().values(), key=lambda v: v.attempt_id)
    return [v.part("generated") for v in verdicts], result.gap_report


@pytest.mark.slow
def test_a_weak_test_set_is_caught_and_a_strong_one_kept(tmp_path):
    weak, weak_gap = _verified(tmp_path, "weak_report", WEAK, "report")
    # the weak tests pass every attempt: all three agree and are accepted, the wrong one too ...
    assert [p.accepted for p in weak] == [True, True, True]
    assert weak_gap["verifiers"]["generated"]["precision"] == pytest.approx(2 / 3, abs=1e-3)
    # ... and they kill none of the reference's mutants
    assert {p.mutation_score for p in weak} == {0.0} and {p.adequate_tests for p in weak} == {0}

    filtered, filtered_gap = _verified(tmp_path, "weak_filter", WEAK, "filter")
    assert [p.accepted for p in filtered] == [False, False, False]  # a set that kills nothing decides nothing
    assert filtered_gap["verifiers"]["generated"]["n_accepted"] == 0

    strong, strong_gap = _verified(tmp_path, "strong_filter", STRONG, "filter")
    assert [p.accepted for p in strong] == [True, True, False]
    assert strong[0].mutation_score > 0.5 and strong[0].adequate_tests >= 2
    assert strong_gap["verifiers"]["generated"]["precision"] == 1.0

    off, _ = _verified(tmp_path, "weak_off", WEAK, None)
    assert {p.mutation_score for p in off} == {None}


def test_an_unknown_mutation_mode_is_refused(tmp_path):
    from codeagent.verify.base import VerifyError
    with pytest.raises(VerifyError, match="verify.mutation must be one of"):
        _verified(tmp_path, "bad", WEAK, "sometimes")


def test_agreement_thresholds():
    from codeagent.verify.agreement import codet_rank
    passed = {"a": frozenset({"t1", "t2", "t3"}), "b": frozenset({"t1"}), "c": frozenset({"t1"})}
    # default: the top cluster ({a} scores 1 x 3 tests = 3, {b, c} 2 x 1 = 2)
    assert {k for k, r in codet_rank(passed).items() if r.accepted} == {"a"}
    # a lone sample agreeing with itself is not enough evidence at min_cluster_size 2: nothing accepted
    assert not any(r.accepted for r in codet_rank(passed, min_cluster_size=2).values())
    # a cluster of two meets the threshold; too few tests passed fails the other one
    pair = {"a": frozenset({"t1"}), "b": frozenset({"t1"}), "c": frozenset()}
    assert {k for k, r in codet_rank(pair, min_cluster_size=2).items() if r.accepted} == {"a", "b"}
    assert not any(r.accepted for r in codet_rank(pair, min_tests_passed=2).values())
