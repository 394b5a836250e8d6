"""rewrite agent with the scripted model, in real local sandboxes, checked by real test runs."""

import subprocess

import pytest

from codeagent.agents import make_agent
from codeagent.agents.rewrite import RewriteTaskError, target_file
from codeagent.tasks import Task, load_tasks, tasks_by_id
from codeagent.tasks.declarative import EXAMPLES_FILE, EXAMPLES_TEST  # the pyfuncs visible test: doctests

from agent_helpers import heldout_passes, run_once

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def humaneval():
    return tasks_by_id(load_tasks("humaneval"))


def double_task() -> Task:
    stub = 'import math\n\n\ndef double(x):\n    """Twice x.\n    >>> double(3)\n    6\n    """\n'
    return Task(id="local/double", task_set="local", split="train", problem_statement=stub,
                repo_files={"solution.py": stub},
                heldout_tests={"test_heldout.py": "from solution import double\n\n\ndef test_d():\n"
                                                  "    assert double(-4) == -8\n"},
                visible_tests={EXAMPLES_FILE: EXAMPLES_TEST}, entry_point="double", prompt_file="solution.py")


def test_correct_reply_gives_a_patch_that_applies_and_solves(humaneval, tmp_path):
    task = humaneval["HumanEval/0"]
    attempt = run_once(make_agent("rewrite"), task, "rewrite_agent.json")
    assert attempt.exit_status == "submitted" and attempt.error is None
    # The stop string cut the reply at the end of the answer block.
    assert "more text" not in attempt.messages[-1]["content"]
    # The patch applies with plain `git apply` to a checkout of the task repo...
    (tmp_path / "solution.py").write_text(task.repo_files["solution.py"])
    (tmp_path / "fix.patch").write_text(attempt.patch)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "fix.patch"], cwd=tmp_path, check=True)
    new = (tmp_path / "solution.py").read_text()
    assert new.startswith("from typing import List\n")  # the stub's import survived the splice
    # ...and solves the task by its held-out tests.
    assert heldout_passes(task, attempt.patch)
    assert attempt.prompt_tokens > 0 and attempt.completion_tokens > 0
    assert [m["role"] for m in attempt.messages] == ["system", "user", "assistant"]


def test_reply_without_code_is_a_format_error_with_an_empty_patch(humaneval):
    attempt = run_once(make_agent("rewrite"), humaneval["HumanEval/1"], "rewrite_agent.json")
    assert attempt.exit_status == "format-error"
    assert attempt.patch == ""
    assert "no python code block" in attempt.error


def test_feedback_round_shows_visible_failures_and_retries():
    task = double_task()
    attempt = run_once(make_agent("rewrite", feedback=2), task, "rewrite_agent.json")
    assert attempt.exit_status == "submitted"
    actions = [s.action for s in attempt.steps]
    assert actions == ["write solution.py", "run visible tests", "write solution.py", "run visible tests"]
    assert attempt.steps[1].exit_code == 1 and "FAILED" in attempt.steps[1].observation
    assert attempt.steps[3].exit_code == 0
    assert "fails these checks" in attempt.messages[3]["content"]
    # Visible tests were only there for the run; the patch holds the solution alone.
    assert "test_examples.py" not in attempt.patch and "__pycache__" not in attempt.patch
    assert "return 2 * x" in attempt.patch
    assert heldout_passes(task, attempt.patch)


def test_without_feedback_the_first_answer_stands():
    task = double_task()
    attempt = run_once(make_agent("rewrite"), task, "rewrite_agent.json")
    assert [s.action for s in attempt.steps] == ["write solution.py"]
    assert not heldout_passes(task, attempt.patch)  # x + 2 is wrong, and nothing told it so


def test_a_repo_task_without_a_single_file_to_rewrite_is_refused():
    task = Task(id="t", task_set="s", split="test", problem_statement="fix it",
                repo_files={"a.py": "", "b.py": ""}, heldout_tests={})
    with pytest.raises(RewriteTaskError, match="--agent bash"):
        target_file(task)
