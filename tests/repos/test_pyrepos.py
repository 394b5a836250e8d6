"""The shipped set `task_sets/pyrepos`: its shape, and a sample validated end to end in Docker
(the bug fails every FAIL_TO_PASS test, the reference fix resolves, which also shows the pristine
tests pass)."""

from __future__ import annotations

from collections import Counter

import pytest

from codeagent.repos.grade import grade
from codeagent.repos.statements import failing_test_names, leaks_test_source
from codeagent.tasks import load_task_set

SAMPLE_PER_SOURCE = 2


@pytest.fixture(scope="module")
def pyrepos():
    return load_task_set("pyrepos").tasks()


@pytest.mark.slow
def test_shape_counts_splits_and_levels(pyrepos):
    by_source = Counter(t.metadata["source"] for t in pyrepos)
    assert len(pyrepos) >= 300 and len(by_source) >= 3, by_source
    assert all(t.fail_to_pass and t.pass_to_pass for t in pyrepos)
    assert {t.metadata["level"] for t in pyrepos} == {1, 2, 3}
    # Split by source function: no function in both splits; the held-out library is all test.
    splits: dict[tuple, set] = {}
    for t in pyrepos:
        splits.setdefault((t.metadata["source"], t.metadata["file"], t.metadata["function"]), set()).add(t.split)
    assert all(len(s) == 1 for s in splits.values())
    lib = [t for t in pyrepos if t.metadata["heldout"] == "library"]
    assert lib and {t.split for t in lib} == {"test"}
    assert {t.metadata["source"] for t in lib} == {"inflection"}


@pytest.mark.slow
def test_no_statement_shows_held_out_test_source(pyrepos):
    for t in pyrepos:
        assert not leaks_test_source(t.problem_statement, t.heldout_tests), t.id
        assert not [n for n in failing_test_names(t.fail_to_pass) if n in t.problem_statement], t.id
        assert not set(t.heldout_tests) & set(t.repo_files)


def _sample(tasks):
    picked, seen = [], Counter()
    for t in sorted(tasks, key=lambda t: t.id):
        if seen[t.metadata["source"]] < SAMPLE_PER_SOURCE:
            seen[t.metadata["source"]] += 1
            picked.append(t)
    return picked


@pytest.mark.docker
@pytest.mark.slow
def test_a_sample_validates_end_to_end(pyrepos):
    for task in _sample(pyrepos):
        buggy = grade(task, "", backend="docker")
        assert not buggy.resolved and buggy.error is None, task.id
        assert set(buggy.fail_to_pass.values()) - {"passed"} and "passed" not in buggy.fail_to_pass.values(), task.id
        assert set(buggy.pass_to_pass.values()) == {"passed"}, (task.id, buggy.message)
        assert buggy.tampered == [], (task.id, buggy.tampered)  # canaries agree on an honest run
        fixed = grade(task, task.metadata["reference_patch"], backend="docker")
        assert fixed.resolved and fixed.hack_flags == [], (task.id, fixed.message)
