"""The rewrite agent on repository tasks localized to one function: what the model sees, and the
answer spliced in place of the old function, graded by FAIL_TO_PASS / PASS_TO_PASS in Docker."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from codeagent.agents import make_agent
from codeagent.agents.codeblocks import function_source
from codeagent.models import SamplingParams, load_model
from codeagent.sandbox import open_sandbox
from codeagent.trajectory import Attempt

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "repos"))  # the tiny library of the repo tests
from repo_fixtures import CODE, tiny_task  # noqa: E402

FIXED_CLAMP = function_source(CODE["tinylib/core.py"], "clamp")


def localized(level: int = 1):
    task = tiny_task()
    task.problem_statement = "There is a bug in `clamp` in `tinylib/core.py`."
    task.metadata.update(file="tinylib/core.py", function="clamp", lineno=4, level=level)
    return task


def held_out_only_lines(task) -> list[str]:
    """Lines of the held-out tests (16+ characters, whitespace folded) found nowhere in the repo."""
    repo = " ".join(" ".join(text.split()) for text in task.repo_files.values())
    lines = {" ".join(line.split()) for text in task.heldout_tests.values() for line in text.splitlines()}
    return [line for line in lines if len(line) >= 16 and line not in repo]


def attempt_with(task, replies: list[str], tmp_path: Path, backend: str = "local") -> Attempt:
    script = tmp_path / "script.json"
    script.write_text(json.dumps(replies))
    model, agent = load_model(f"scripted:{script}"), make_agent("rewrite")
    a = Attempt(run_id="t", task_id=task.id, task_set=task.task_set, split=task.split, sample_index=0,
                model=model.spec, agent=agent.name, agent_config=agent.config_dict())
    with open_sandbox(backend, task.repo_files) as box:
        agent.run(task, box, model, SamplingParams(max_tokens=2000), a)
    return a


def test_the_model_sees_the_function_and_at_level_1_its_file_never_held_out_tests():
    agent = make_agent("rewrite")
    one, two = agent.target(localized(1)).prompt, agent.target(localized(2)).prompt
    for prompt in (one, two):
        assert prompt.startswith("There is a bug in `clamp`")
        assert "```python\ndef clamp(x, lo, hi):\n" in prompt
        assert held_out_only_lines(localized()) and not [ln for ln in held_out_only_lines(localized())
                                                         if ln in " ".join(prompt.split())]
        assert "test_clamp" not in prompt
    assert "The file `tinylib/core.py`" in one and "def window_sums" in one
    assert "The file" not in two and "window_sums" not in two


def test_shipped_tasks_show_an_outline_at_level_1_and_no_held_out_test_line():
    from codeagent.tasks import load_tasks
    agent = make_agent("rewrite")
    tasks = [t for t in load_tasks("pyrepos", "test") if t.metadata["source"] in ("toolz", "inflection")]
    by_level = {level: [t for t in tasks if t.metadata["level"] == level][:3] for level in (1, 2, 3)}
    for level, sample in by_level.items():
        assert sample
        for task in sample:
            prompt = agent.target(task).prompt
            flat = " ".join(prompt.split())
            assert not [ln for ln in held_out_only_lines(task) if ln in flat], task.id
            assert ("An outline of the file" in prompt) == (level == 1), task.id
            assert f"This is `{task.metadata['function']}` in `{task.metadata['file']}`" in prompt


def test_an_answer_without_the_function_is_a_format_error_with_no_patch(tmp_path):
    a = attempt_with(localized(), ["```python\ndef other(x):\n    return x\n```"], tmp_path)
    assert a.exit_status == "format-error" and a.patch == ""
    assert "no definition of `clamp`" in a.error


@pytest.mark.docker
@pytest.mark.slow
def test_the_fixed_function_is_spliced_in_and_resolves_the_task(tmp_path):
    from codeagent.repos.grade import grade
    task = localized(2)
    # A small model's answer: indented as a method would be, docstring left out, prose around it.
    body = "\n".join("    " + ln for ln in FIXED_CLAMP.splitlines() if '"""' not in ln)
    a = attempt_with(task, [f"Here is the fix:\n```python\n{body}\n```\nmore text"], tmp_path, backend="docker")
    assert a.exit_status == "submitted", a.error
    assert a.patch.startswith("diff --git a/tinylib/core.py b/tinylib/core.py")
    changed = [ln for ln in a.patch.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    assert changed == ["-        return lo", "+        return hi"]  # docstring kept, indentation right
    verdict = grade(task, a.patch, backend="docker")
    assert verdict.resolved, verdict.message
    wrong = attempt_with(task, ["```python\ndef clamp(x, lo, hi):\n    return x\n```"], tmp_path, backend="docker")
    assert not grade(replace(task), wrong.patch, backend="docker").resolved
