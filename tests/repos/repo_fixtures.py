"""A tiny library with its own pytest suite, as a repository source would give it."""

from __future__ import annotations

from codeagent.repos.sources import Pristine, RepoSource
from codeagent.repos.taskset import unified_diff
from codeagent.tasks import Task

CODE = {
    "tinylib/__init__.py": "from .core import clamp, window_sums\n",
    "tinylib/core.py": '''"""Two small functions with some substance."""


def clamp(x, lo, hi):
    """x limited to [lo, hi]."""
    if lo > hi:
        raise ValueError("lo must not exceed hi")
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def window_sums(xs, k):
    """Sums of each window of k consecutive items."""
    if k <= 0:
        raise ValueError("k must be positive")
    out = []
    total = sum(xs[:k])
    if len(xs) >= k:
        out.append(total)
    for i in range(k, len(xs)):
        total += xs[i] - xs[i - k]
        out.append(total)
    return out
''',
}
TESTS = {
    "tests/__init__.py": "",
    "tests/test_core.py": '''import pytest

from tinylib import clamp, window_sums


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_clamp_below():
    assert clamp(-3, 0, 10) == 0


def test_clamp_above():
    assert clamp(30, 0, 10) == 10


def test_clamp_bad_bounds():
    with pytest.raises(ValueError):
        clamp(1, 5, 0)


def test_window_sums():
    assert window_sums([1, 2, 3, 4], 2) == [3, 5, 7]


def test_window_sums_short():
    assert window_sums([1], 3) == []
''',
}
SOURCE = RepoSource(name="tinylib", version="0", sha256="0" * 64, source_files=("tinylib/*.py",),
                    test_files=("tests/*.py",), timeout_s=60, path="tests/repos/repo_fixtures.py")

BUGGY_CLAMP = CODE["tinylib/core.py"].replace("    if x > hi:\n        return hi\n", "    if x > hi:\n        return lo\n")


def tiny_pristine() -> Pristine:
    return Pristine(SOURCE, dict(CODE), dict(TESTS))


def tiny_task() -> Task:
    """clamp() returns lo above the range: test_clamp_above fails, the other tests pass."""
    repo = {**CODE, "tinylib/core.py": BUGGY_CLAMP}
    return Task(id="tiny/clamp", task_set="tiny", split="test", problem_statement="clamp is wrong above hi",
                repo_files=repo, heldout_tests=dict(TESTS), reference_files={"tinylib/core.py": CODE["tinylib/core.py"]},
                fail_to_pass=["tests/test_core.py::test_clamp_above"],
                pass_to_pass=["tests/test_core.py::test_clamp_inside", "tests/test_core.py::test_clamp_below",
                              "tests/test_core.py::test_clamp_bad_bounds", "tests/test_core.py::test_window_sums"],
                metadata={"kind": "repo", "timeout_s": 30})


def reference_patch() -> str:
    return unified_diff("tinylib/core.py", BUGGY_CLAMP, CODE["tinylib/core.py"])
