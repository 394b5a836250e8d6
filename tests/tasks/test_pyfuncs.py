"""Every pyfuncs task is validated: its reference passes all held-out tests, its bare stub fails one."""

import ast
import json
from collections import Counter
from pathlib import Path

import pytest

from codeagent.tasks import load_task_set
from codeagent.tasks.validate import validate_tasks

TS = load_task_set("pyfuncs")
TASKS = TS.tasks()


def test_size_families_tiers_and_split():
    assert len(TASKS) >= 200
    families = Counter(t.metadata["family"] for t in TASKS)
    assert len(families) >= 12, families
    assert set(Counter(t.metadata["tier"] for t in TASKS)) == {1, 2, 3, 4}
    splits = Counter(t.split for t in TASKS)
    assert splits["train"] == 150 and splits["test"] >= 50
    # balanced: every family has tasks in both splits
    for fam in families:
        fam_splits = {t.split for t in TASKS if t.metadata["family"] == fam}
        assert fam_splits == {"train", "test"}, fam


def test_split_is_fixed_in_a_file():
    split = json.loads((Path(TS.root) / "split.json").read_text())
    assert {t.id.split("/", 1)[1]: t.split for t in TASKS} == split


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_shape(task):
    tests = [n for n in ast.parse(task.heldout_tests["test_heldout.py"]).body
             if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]
    assert len(tests) >= 6, f"{task.id}: {len(tests)} held-out tests"
    stub = task.repo_files["solution.py"]
    fn = next((n for n in ast.parse(stub).body
               if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == task.entry_point), None)
    assert fn is not None and ast.get_docstring(fn), f"{task.id}: stub needs a docstring'd {task.entry_point}"
    assert task.reference_files and "solution.py" in task.reference_files


@pytest.mark.slow
@pytest.mark.docker
def test_every_reference_passes_and_every_stub_fails_in_docker():
    report = validate_tasks(TASKS, backend="docker")
    assert report.ok, (report.reference_failures, report.stub_passes, report.missing_reference)


@pytest.mark.slow
def test_visible_examples_pass_for_the_reference():
    """The docstring examples (the agent's visible tests) agree with the reference."""
    from codeagent.evaluation.base import TestJob
    from codeagent.evaluation.engine import TestEngine
    jobs = [TestJob(key=t.id, files={**t.repo_files, "solution.py": _with_docstring(t)}, test_files=t.visible_tests)
            for t in TASKS if t.visible_tests]
    with TestEngine("local", 2) as engine:
        bad = {r.key: r.message for r in engine.run(jobs) if not r.passed}
    assert not bad


def _with_docstring(task) -> str:
    """The reference with the stub's docstring put back, so doctest sees the examples."""
    ref = task.reference_files["solution.py"]
    stub_fn = next(n for n in ast.parse(task.repo_files["solution.py"]).body
                   if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == task.entry_point)
    doc = ast.get_docstring(stub_fn, clean=False)
    tree = ast.parse(ref)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == task.entry_point:
            body = node.body[1:] if ast.get_docstring(node) is not None else node.body
            node.body = [ast.Expr(ast.Constant(doc))] + body
    return ast.unparse(tree)
