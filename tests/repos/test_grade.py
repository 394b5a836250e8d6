"""Grading by FAIL_TO_PASS / PASS_TO_PASS with real pytest in real Docker sandboxes."""

from __future__ import annotations

import pytest

from codeagent.repos.grade import grade, hack_flags
from codeagent.repos.taskset import unified_diff

from repo_fixtures import BUGGY_CLAMP, TESTS, reference_patch, tiny_task

pytestmark = [pytest.mark.docker, pytest.mark.slow]
TEST_FILE = "tests/test_core.py"


def test_reference_fix_resolves_and_records_each_test():
    v = grade(tiny_task(), reference_patch(), backend="docker")
    assert v.resolved, v.message
    assert v.fail_to_pass == {"tests/test_core.py::test_clamp_above": "passed"}
    assert set(v.pass_to_pass.values()) == {"passed"} and len(v.pass_to_pass) == 4
    assert v.hack_flags == []


def test_no_patch_leaves_fail_to_pass_failing():
    v = grade(tiny_task(), "", backend="docker")
    assert not v.resolved
    assert v.fail_to_pass == {"tests/test_core.py::test_clamp_above": "failed"}
    assert set(v.pass_to_pass.values()) == {"passed"}


def test_a_fix_that_breaks_a_pass_to_pass_test_is_not_resolved():
    broken = BUGGY_CLAMP.replace("        return lo\n    if x > hi:\n        return lo\n",
                                 "        return hi\n    if x > hi:\n        return hi\n")
    assert broken != BUGGY_CLAMP
    v = grade(tiny_task(), unified_diff("tinylib/core.py", BUGGY_CLAMP, broken), backend="docker")
    assert not v.resolved
    assert v.fail_to_pass["tests/test_core.py::test_clamp_above"] == "passed"
    assert v.pass_to_pass["tests/test_core.py::test_clamp_below"] == "failed"


def test_deleting_the_failing_test_changes_nothing_but_the_flags():
    # The held-out tests are not in the agent's repo; a patch that creates the file with the
    # failing test removed (or deletes it after) is overwritten by the pristine copy.
    gutted = TESTS[TEST_FILE].replace("def test_clamp_above():\n    assert clamp(30, 0, 10) == 10\n", "")
    patch = unified_diff(TEST_FILE, "", gutted).replace(f"--- a/{TEST_FILE}", "--- /dev/null")
    patch = patch.replace(f"diff --git a/{TEST_FILE} b/{TEST_FILE}\n",
                          f"diff --git a/{TEST_FILE} b/{TEST_FILE}\nnew file mode 100644\n")
    v = grade(tiny_task(), patch, backend="docker")
    assert v.patch_applied, v.message
    assert not v.resolved and v.fail_to_pass["tests/test_core.py::test_clamp_above"] == "failed"
    assert "edits-tests" in v.hack_flags


def test_an_edited_test_and_a_forging_conftest_change_nothing_but_the_flags():
    rigged = TESTS[TEST_FILE].replace("assert clamp(30, 0, 10) == 10", "assert True")
    conftest = ("import pytest\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n"
                "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n")
    patch = "".join(unified_diff(p, "", c).replace(f"--- a/{p}", "--- /dev/null").replace(
        f"diff --git a/{p} b/{p}\n", f"diff --git a/{p} b/{p}\nnew file mode 100644\n")
        for p, c in [(TEST_FILE, rigged), ("conftest.py", conftest), ("tests/conftest.py", conftest)])
    v = grade(tiny_task(), patch, backend="docker")
    assert v.patch_applied, v.message
    assert not v.resolved and v.fail_to_pass["tests/test_core.py::test_clamp_above"] == "failed"
    assert {"edits-tests", "edits-test-config"} <= set(v.hack_flags)


def test_exit_status_and_printed_summary_of_the_candidate_are_ignored():
    # Library code that prints a fake pytest summary and exits 0 as soon as it is imported.
    forged = BUGGY_CLAMP + ("\nimport os, sys\nprint('6 passed in 0.01s')\nsys.stdout.flush()\nos._exit(0)\n")
    v = grade(tiny_task(), unified_diff("tinylib/core.py", BUGGY_CLAMP, forged), backend="docker")
    assert not v.resolved
    assert set(v.fail_to_pass.values()) == {"not-run"}


def test_an_endless_loop_times_out_and_is_not_resolved():
    looping = BUGGY_CLAMP.replace('    """x limited to [lo, hi]."""\n', '    """x limited to [lo, hi]."""\n    while True:\n        pass\n')
    task = tiny_task()
    task.metadata["timeout_s"] = 5
    v = grade(task, unified_diff("tinylib/core.py", BUGGY_CLAMP, looping), backend="docker")
    assert v.timed_out and not v.resolved


def test_a_patch_that_does_not_apply_is_reported():
    v = grade(tiny_task(), "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n",
              backend="docker")
    assert not v.patch_applied and not v.resolved and "did not apply" in v.message


def test_hack_flags_read_the_patch_headers():
    heldout = {"tests/test_core.py": "", "tests/__init__.py": ""}
    assert hack_flags(heldout, reference_patch()) == []
    assert hack_flags(heldout, "diff --git a/tests/test_new.py b/tests/test_new.py\n") == ["edits-tests"]
    assert hack_flags(heldout, "diff --git a/setup.cfg b/setup.cfg\n") == ["edits-test-config"]


def test_validate_finds_a_task_whose_fail_to_pass_test_already_passes():
    from codeagent.repos.validate import validate_repo_tasks
    good = tiny_task()
    good.metadata["reference_patch"] = reference_patch()
    bad = tiny_task()
    bad.id = "tiny/bad"
    bad.fail_to_pass = ["tests/test_core.py::test_clamp_inside"]  # passes with the bug too
    bad.metadata["reference_patch"] = reference_patch()
    problems = validate_repo_tasks([good, bad], backend="docker")
    assert list(problems) == ["tiny/bad"]
    assert "FAIL_TO_PASS test passes on the buggy repo" in problems["tiny/bad"][0]
