"""The generated verifier on repository tasks: a model (scripted here) writes pytest tests of the
localized function from the statement and that function only; each attempt's patched repo runs
them in a real Docker sandbox with real pytest; dual-execution agreement picks what to accept, and
the gap report measures it against FAIL_TO_PASS / PASS_TO_PASS grading."""

from __future__ import annotations

import json
import re

import pytest

from codeagent.models.scripted import ScriptedModel
from codeagent.repos.gentests import GENERATED_PATH
from codeagent.repos.taskset import unified_diff
from codeagent.runfolder import RunFolder
from codeagent.tasks import load_tasks
from codeagent.verify.testgen import generate_tests, repo_target, sanitize

from verify_fixtures import write_generated_tests, write_run

HUMANIZE = "pyrepos/inflection__humanize__drop_statement_b0e7e9977d"
COMPOSE = "pyrepos/toolz__Compose.__doc____change_arithmetic_51c2736615"

# humanize("employee_salary") tells the fix from the bug (which keeps the underscore); the other
# two pass on both.
TELLING = ("```python\nfrom inflection import humanize\n\n\ndef test_underscores():\n"
           "    assert humanize('employee_salary') == 'Employee salary'\n")
AGREEING = ("```python\nfrom inflection import humanize\n\n\ndef test_id_suffix():\n"
            "    assert humanize('author_id') == 'Author'\n\n\ndef test_one_word():\n"
            "    assert humanize('word') == 'Word'\n```\n")
UNSAFE = ("def test_reads_a_file():\n    assert humanize(open('test_inflection.py').read())\n\n\n"
          "def test_digs():\n    assert humanize.__globals__ is not None\n")


@pytest.fixture(scope="module")
def tasks():
    by_id = {t.id: t for t in load_tasks("pyrepos", "test")}
    return by_id[HUMANIZE], by_id[COMPOSE]


class RecordingModel(ScriptedModel):
    """The real scripted model, keeping every conversation it was shown."""

    def __init__(self, path):
        super().__init__(path)
        self.seen = []

    def generate(self, conversations, params=None):
        self.seen.extend(conversations)
        return super().generate(conversations, params)


def test_the_prompt_shows_the_localized_function_and_never_the_heldout_tests(tasks, tmp_path):
    script = tmp_path / "tests.json"
    script.write_text(json.dumps({"rules": [{"match": "Import it with `from inflection import humanize`",
                                             "reply": TELLING + "\n\n" + UNSAFE + "```\n"},
                                            {"match": "Import it with `from toolz.functoolz import Compose`",
                                             "reply": "assert Compose((len, str)).__doc__.startswith('lambda')"}]}))
    model = RecordingModel(script)
    humanize, compose = tasks
    gens = {g.task_id: g for g in generate_tests(model, [humanize, compose], samples=2)}
    assert gens[HUMANIZE].tests == ["def test_gen_0():\n    assert humanize('employee_salary') == 'Employee salary'"]
    assert {d["reason"] for d in gens[HUMANIZE].dropped} >= {"open not allowed in a repository test",
                                                             "attribute __globals__ not allowed in a repository test"}
    assert gens[COMPOSE].tests == ["def test_gen_0():\n    assert Compose((len, str)).__doc__.startswith('lambda')"]
    assert (repo_target(compose).module, repo_target(compose).name) == ("toolz.functoolz", "Compose")
    for task, prompt in zip((humanize, compose), model.seen):
        asked = prompt[-1]["content"]
        assert task.problem_statement.strip() in asked and repo_target(task).source.strip() in asked
        text = json.dumps(prompt)
        hidden = {line.strip() for f in task.heldout_tests.values() for line in f.splitlines() if "assert" in line}
        assert hidden and not [h for h in hidden if json.dumps(h)[1:-1] in text]
        names = {n for f in task.heldout_tests.values() for n in re.findall(r"def (test_\w+)", f)}
        assert names and not [n for n in names if n in text]


def test_sanitizing_keeps_function_level_tests_as_they_were():
    """The repository rules (`guarded=False`) apply only where no audit guard runs the tests."""
    reply = "assert f(open and 1) == 1\nassert f.__code__ is not None\n"
    assert len(sanitize([reply], "f", 10)[0]) == 2
    assert sanitize([reply], "f", 10, guarded=False)[0] == []
    # Replies too deeply nested to parse (small models write them) are dropped, never a crash.
    assert sanitize(["assert f(" + "-" * 5000 + "1) == 1\nassert f(2) == 2"], "f", 10)[0] == [
        "def test_gen_0():\n    assert f(2) == 2"]


def test_mutation_adequacy_is_function_level_only_and_says_so(tasks, tmp_path, capsys):
    from codeagent.evaluation.base import TestReport
    from codeagent.verify.base import VerifierContext
    from codeagent.verify.generated import GeneratedVerifier
    from codeagent.verify.stage import VerifyConfig, make_candidate

    task = tasks[0]
    [attempt] = write_run(tmp_path, [(HUMANIZE, task.metadata["reference_patch"])], task_set="pyrepos")
    write_generated_tests(tmp_path, {HUMANIZE: ["def test_gen_0():\n    assert humanize('word') == 'Word'"]})
    v = GeneratedVerifier.create(VerifierContext(run=RunFolder(tmp_path), tasks=[task],
                                                 config=VerifyConfig(mutation="report")))
    assert "mutation adequacy is function-level only" in capsys.readouterr().err
    c = make_candidate(task, attempt)
    [job] = v.jobs(task, [c])
    assert job.test_files == {GENERATED_PATH: "from inflection import humanize\n\n\n"
                                              "def test_gen_0():\n    assert humanize('word') == 'Word'\n"}
    reports = {v.key(c): TestReport(v.key(c), True, per_test={f"{GENERATED_PATH}::test_gen_0": "passed"})}
    assert v.followup_jobs(task, [c], reports) == []
    part = v.judge(task, [c], reports)[c.attempt_id]
    assert part.accepted and part.mutation_score is None


def new_file_patch(path: str, text: str) -> str:
    lines = text.splitlines(keepends=True)
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n" + "".join("+" + line for line in lines))


@pytest.mark.docker
@pytest.mark.slow
def test_agreement_on_repository_attempts_and_the_gap_report(tasks, tmp_path):
    from codeagent.verify import accepts
    from codeagent.verify.stage import VerifyConfig, verify_run

    task = tasks[0]
    path = task.metadata["file"]
    buggy = task.repo_files[path]
    wrong = unified_diff(path, buggy, buggy.replace('word = re.sub(r"_id$", "", word)\n',
                                                    'word = re.sub(r"_id$", "", word)  # ids go\n'))
    # The bug kept, and a test file planted where the generated tests go: flagged, and overwritten.
    planted = wrong + new_file_patch(GENERATED_PATH, "def test_gen_0():\n    pass\n")
    patches = [(HUMANIZE, task.metadata["reference_patch"]), (HUMANIZE, wrong), (HUMANIZE, planted)]
    telling = TELLING + "\n\n" + AGREEING.removeprefix("```python\nfrom inflection import humanize\n")
    cache = tmp_path / "cache"

    def verify(name: str, reply: str, patches):
        script = tmp_path / f"{name}.json"
        script.write_text(json.dumps({"rules": [{"match": "from inflection import humanize", "reply": reply}]}))
        run_dir = tmp_path / name
        attempts = write_run(run_dir, patches, model=f"scripted:{script}", task_set="pyrepos")
        result = verify_run(run_dir, VerifyConfig(backend="docker", cache_dir=cache, samples=1, progress=False))
        verdicts = RunFolder(run_dir).verdicts()
        return run_dir, result, [verdicts[a.attempt_id] for a in attempts]

    # Tests that tell the fix from the bug: the fix is accepted alone.
    run_dir, result, (right, bad, hacked) = verify("telling", telling, patches)
    assert [accepts(v, "heldout") for v in (right, bad, hacked)] == [True, False, False]
    assert [accepts(v, "generated") for v in (right, bad, hacked)] == [True, False, False]
    assert (right.part("generated").tests_passed, bad.part("generated").tests_passed) == (3, 2)
    assert hacked.hack_flags and hacked.part("generated").per_test["test_gen_0"] == "failed"  # ours ran, not the planted one
    gen = result.gap_report["verifiers"]["generated"]
    assert (gen["tp"], gen["fp"], gen["fn"], gen["precision"], gen["recall"]) == (1, 0, 0, 1.0, 1.0)
    assert RunFolder(run_dir).gap_report() == result.gap_report
    assert [g.tests for g in RunFolder(run_dir).generated_tests().values()] == [  # stored, for reruns to reuse
        [f"def test_gen_{k}():\n    assert humanize({a!r}) == {b!r}" for k, (a, b) in
         enumerate([("employee_salary", "Employee salary"), ("author_id", "Author"), ("word", "Word")])]]

    # Tests every attempt passes: fix and bug form one cluster of two, and agreement accepts both
    # (as on function tasks: agreement is only as good as the tests; the gap report shows the cost).
    _, result, (right, bad) = verify("agreeing", AGREEING, patches[:2])
    assert [accepts(v, "generated") for v in (right, bad)] == [True, True]
    assert right.part("generated").cluster_size == 2
    gen = result.gap_report["verifiers"]["generated"]
    assert (gen["tp"], gen["fp"], gen["precision"], gen["recall"]) == (1, 1, 0.5, 1.0)
