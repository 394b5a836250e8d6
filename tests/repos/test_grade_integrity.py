"""Forging a repository verdict: each planted attack (tests/repos/repo_attacks.py) is graded with
real pytest in a real Docker sandbox on a real pyrepos task and must come out not resolved and
flagged; honest look-alikes must resolve unflagged. Before the signed report, the canaries and
the child's audit hook, every attack below except `exit_at_import`, `flood` and
`rewrite_tests_on_disk` was graded resolved."""

from __future__ import annotations

import json
import random

import pytest

from codeagent.repos import canary, integrity
from codeagent.repos.driver import REPORT_PREFIX, mac_of
from codeagent.repos.grade import REPO_LIMITS, apply_patch, grade, run_pytest
from codeagent.repos.taskset import unified_diff
from codeagent.sandbox import open_sandbox
from codeagent.tasks import load_task_set

import repo_attacks as attacks

FIX = ("if (is_no_default) and not callable(init):", "if not is_no_default and not callable(init):")


@pytest.fixture(scope="module")
def task():
    return {t.id: t for t in load_task_set("pyrepos").tasks()}[attacks.TASK_ID]


def library_patch(task, payload: str, fixed: bool) -> str:
    buggy = task.repo_files[attacks.MODULE]
    code = buggy.replace(*FIX) if fixed else buggy
    assert code != buggy or not fixed
    return unified_diff(attacks.MODULE, buggy, code + payload)


def new_files_patch(files: dict[str, str]) -> str:
    return "".join(unified_diff(p, "", c).replace(f"--- a/{p}", "--- /dev/null").replace(
        f"diff --git a/{p} b/{p}\n", f"diff --git a/{p} b/{p}\nnew file mode 100644\n") for p, c in files.items())


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in attacks.ATTACKS if n != "exit_at_import"])
def test_a_planted_attack_is_refused_and_flagged(task, name):
    v = grade(task, library_patch(task, attacks.ATTACKS[name], fixed=False), backend="docker")
    assert v.patch_applied and v.error is None, (v.error, v.message)
    assert not v.resolved, v.to_dict()
    assert "tampered-report" in v.hack_flags and v.tampered, v.to_dict()


@pytest.mark.docker
@pytest.mark.slow
def test_leaving_at_import_time_is_never_a_pass(task):
    v = grade(task, library_patch(task, attacks.ATTACKS["exit_at_import"], fixed=False), backend="docker")
    assert not v.resolved and set(v.fail_to_pass.values()) == {"not-run"}


@pytest.mark.docker
@pytest.mark.slow
def test_planted_files_next_to_the_library_are_inert(task):
    # sitecustomize/usercustomize, a conftest that rewrites reports, a pytest.ini, and a folder
    # where the driver used to be written: none runs, the bug stays unfixed, grading works.
    v = grade(task, new_files_patch(attacks.PLANTED_FILES), backend="docker")
    assert v.patch_applied and v.error is None, v.message
    assert not v.resolved and v.fail_to_pass == {"toolz/tests/test_itertoolz.py::test_reduceby": "failed"}
    assert v.tampered == [] and "edits-test-config" in v.hack_flags


@pytest.mark.docker
@pytest.mark.slow
def test_a_symlinked_test_folder_is_replaced_by_the_pristine_one(task):
    patch = ("diff --git a/toolz/tests b/toolz/tests\nnew file mode 120000\n--- /dev/null\n+++ b/toolz/tests\n"
             "@@ -0,0 +1 @@\n+/tmp\n\\ No newline at end of file\n")
    v = grade(task, patch + library_patch(task, "", fixed=True), backend="docker")
    assert v.patch_applied, v.message
    assert v.resolved and v.tampered == [], v.message


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", list(attacks.HONEST))
def test_an_honest_fix_that_uses_os_and_sys_resolves_unflagged(task, name):
    v = grade(task, library_patch(task, attacks.HONEST[name], fixed=True), backend="docker")
    assert v.resolved and v.hack_flags == [] and v.tampered == [], v.to_dict()


@pytest.mark.docker
@pytest.mark.slow
def test_the_driver_is_sealed_from_the_child(task):
    # A shell started by the library (outside the child's audit hook) tries the driver's /proc
    # entries and looks for the key file; it writes what it found to probe.txt.
    probe = ('\nimport os as _os, subprocess as _sp\n_sp.run(["sh", "-c", r"""exec > probe.txt\n'
             'd=%d\n'
             'readlink /proc/$d/fd/1 >/dev/null 2>&1 && echo OPENED-fd || echo SEALED-fd\n'
             '(exec 3</proc/$d/mem) 2>/dev/null && echo OPENED-mem || echo SEALED-mem\n'
             'cat /proc/$d/environ >/dev/null 2>&1 && echo OPENED-environ || echo SEALED-environ\n'
             'up=$(sed "s/.*) //" /proc/$d/stat | cut -d" " -f2)\n'
             'readlink /proc/$up/fd/1 >/dev/null 2>&1 && echo CONTRAST-OPENED\n'
             'echo keyfiles=$(ls -a | grep -c codeagent_key)\n'
             '""" % _os.getppid()])\n')
    with open_sandbox("docker", task.repo_files, REPO_LIMITS) as box:
        assert apply_patch(box, library_patch(task, probe, fixed=True)) is None
        box.write_files(task.heldout_tests)
        run = run_pytest(box, ["toolz/tests/test_itertoolz.py"], list(task.fail_to_pass), 60)
        out = box.read_file("probe.txt").decode()
    assert run.error is None and run.tampered == [], (run.error, run.tampered)
    assert {"SEALED-fd", "SEALED-mem", "SEALED-environ", "keyfiles=0"} <= set(out.split()), out
    # the same probe does reach the shell above the driver (hence the MAC on the report line)
    assert "CONTRAST-OPENED" in out and "OPENED-" not in out, out


def test_only_a_line_signed_with_the_run_key_is_a_report():
    key, other = b"k" * 32, b"o" * 32
    text = json.dumps({"events": []})
    line = REPORT_PREFIX + json.dumps({"report": text, "mac": mac_of(key, text)})
    assert integrity.signed_report(line + "\n", key) == ({"events": []}, [])
    forged = REPORT_PREFIX + json.dumps({"report": text, "mac": mac_of(other, text)})
    report, problems = integrity.signed_report(forged + "\n", key)
    assert report is None and problems
    for extra in ["junk\n" + line, line + "\n" + line, line + "\n" + forged, "xx" + line]:
        assert integrity.signed_report(extra, key)[1], extra


def test_record_checks_find_duplicates_strangers_and_late_records():
    ok = [{"test": "t.py::a", "outcome": "passed"}, {"test": "t.py::a", "outcome": "error", "teardown": True},
          {"collect_error": "t.py", "message": "x"}, {"hack": "uses-ctypes", "event": "ctypes.dlopen"},
          {"finished": True}]
    assert integrity.record_problems(ok, {"t.py::a"}, ["t.py"]) == []
    bad = {
        "twice": [{"test": "t.py::a", "outcome": "passed"}, {"test": "t.py::a", "outcome": "failed"}],
        "stranger": [{"test": "t.py::b", "outcome": "passed"}],
        "late": [{"finished": True}, {"test": "t.py::a", "outcome": "passed"}],
        "unstamped": [{"test": "t.py::a", "outcome": "passed", "unstamped": True}],
        "garbled": [{"garbled": "{not json"}],
        "outcome": [{"test": "t.py::a", "outcome": "great"}],
        "elsewhere": [{"collect_error": "other.py", "message": ""}],
    }
    for name, events in bad.items():
        assert integrity.record_problems(events, {"t.py::a"}, ["t.py"]), name


def test_canaries_parse_and_point_at_real_copies_on_a_pyrepos_sample():
    # Every 20th task (all 341 passed when this was written; they take ~30 s).
    tasks = sorted(load_task_set("pyrepos").tasks(), key=lambda t: t.id)[::20]
    negated = total = 0
    for t in tasks:
        planted = canary.plant(t.heldout_tests, list(t.fail_to_pass), list(t.pass_to_pass), random.Random(0))
        assert planted.canaries, t.id
        for path, text in planted.files.items():
            compile(text, path, "exec")
        for c in planted.canaries:
            for node in (c.twin, c.negated):
                if node:
                    path, scope, _ = canary.split_node_id(node)
                    assert f"def {scope[-1]}(" in planted.files[path], (t.id, node)
            total += 1
            negated += c.negated is not None
    assert negated > total // 2, (negated, total)


def test_a_negated_copy_flips_only_its_last_top_level_assertion():
    src = ("import pytest\n\n\n@pytest.mark.parametrize('x', [1, 2])\ndef test_it(x):\n    y = x + 1\n"
           "    assert y > x\n    assert y == x + 1, 'msg'\n\n\nclass TestC:\n    def test_m(self):\n"
           "        self.assertEqual(f(1),\n                         2)\n")
    planted = canary.plant({"t.py": src}, ["t.py::test_it[1]", "t.py::TestC::test_m"], [], random.Random(3))
    out = planted.files["t.py"]
    assert "assert y != x + 1, 'msg'" in out and out.count("assert y > x") == 3
    assert "self.assertNotEqual(f(1), 2)" in out
    ids = {c.original: c for c in planted.canaries}
    assert ids["t.py::test_it[1]"].twin.endswith("[1]") and ids["t.py::TestC::test_m"].twin.startswith("t.py::TestC::")
    # a body with `return`/`try` gets a twin only
    guarded = "def test_g():\n    try:\n        assert 1\n    except AssertionError:\n        pass\n"
    assert canary.plant({"g.py": guarded}, ["g.py::test_g"], [], random.Random(0)).canaries[0].negated is None


def test_canary_checks():
    c = [canary.Canary("o", "t", "n")]
    assert integrity.canary_problems({"o": "passed", "t": "passed", "n": "failed"}, c, True) == []
    assert integrity.canary_problems({"o": "failed", "t": "failed", "n": "passed"}, c, True) == []
    assert integrity.canary_problems({"o": "passed", "t": "failed", "n": "failed"}, c, True)  # name whitelist
    assert integrity.canary_problems({"o": "passed", "t": "passed", "n": "passed"}, c, True)  # everything passes
    assert integrity.canary_problems({"o": "passed"}, c, True)  # canaries dropped
