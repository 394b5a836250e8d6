"""bash agent with a scripted conversation, in real local sandboxes."""

import pytest

from codeagent.agents import make_agent
from codeagent.agents.bash import parse_action
from codeagent.agents.base import FormatError, Submitted
from codeagent.errors import UserError
from codeagent.models import ContextLengthError
from codeagent.tasks import Task

from agent_helpers import heldout_passes, run_once

pytestmark = pytest.mark.slow

HELDOUT = "from calc.ops import add\n\n\ndef test_add():\n    assert add(2, 3) == 5 and add(-1, 1) == 0\n"


def calc_task(problem: str = "The add() function of the calc package returns the wrong result: "
                             "`python3 main.py` should print 5.") -> Task:
    return Task(id="local/calc", task_set="local", split="train", problem_statement=problem,
                repo_files={"calc/__init__.py": "", "calc/ops.py": "def add(a, b):\n    return a - b\n",
                            "main.py": "from calc.ops import add\n\nprint(add(2, 3))\n",
                            "README.md": "A calculator.\n"},
                heldout_tests={"test_heldout.py": HELDOUT})


def test_solves_a_multi_step_task_end_to_end():
    task = calc_task()
    attempt = run_once(make_agent("bash"), task, "bash_agent.json")
    assert attempt.exit_status == "submitted", attempt.error
    assert [s.action for s in attempt.steps] == [
        "ls -R", "cat calc/ops.py main.py", "sed -i 's/return a - b/return a + b/' calc/ops.py",
        "python3 main.py", "cat <<'EOF' > calc/NOTES.md\nadd() fixed: it subtracted.\nEOF"]
    listing, cat, _, run, _ = attempt.steps
    assert "main.py" in listing.observation and "ops.py" in listing.observation
    assert "test_heldout" not in listing.observation  # the sandbox holds repo files only
    assert "return a - b" in cat.observation
    assert run.exit_code == 0 and run.observation.splitlines() == ["exit code: 0", "5"]
    # The chat: system, task, then (assistant, observation) pairs, and the final submit.
    roles = [m["role"] for m in attempt.messages]
    assert roles == ["system", "user"] + ["assistant", "user"] * 5 + ["assistant"]
    assert attempt.messages[3]["content"] == listing.observation
    # The artefact is the repo's diff: the fix and the new file, nothing else (no __pycache__).
    assert "+    return a + b" in attempt.patch and "calc/NOTES.md" in attempt.patch
    assert "__pycache__" not in attempt.patch and ".pyc" not in attempt.patch
    assert heldout_passes(task, attempt.patch)


def test_malformed_replies_get_corrections_until_too_many_in_a_row():
    attempt = run_once(make_agent("bash"), calc_task("FORMAT-ERRORS"), "bash_agent.json")
    assert attempt.exit_status == "format-error"
    assert "3 malformed replies in a row" in attempt.error
    # 2 errors, then a good command resets the count, then 3 errors end the attempt.
    assert [s.action for s in attempt.steps] == ["", "", "ls", "", "", ""]
    corrections = [m["content"] for m in attempt.messages if m["content"].startswith("Format error")]
    assert len(corrections) == 4  # the last malformed reply ends the attempt instead
    assert "has no ```bash block" in corrections[0] and "has 2 code blocks" in corrections[1]
    assert attempt.patch == ""


def test_step_limit():
    attempt = run_once(make_agent("bash", max_steps=4, repeat_limit=0), calc_task("STEP-LIMIT"), "bash_agent.json")
    assert attempt.exit_status == "step-limit"
    assert "step limit reached (4 steps)" in attempt.error
    assert len(attempt.steps) == 4 and all(s.observation.endswith("hi") for s in attempt.steps)


def test_a_repeated_command_is_pointed_out_then_ends_the_attempt():
    # echo hi twice (the second told so), another command resets the count, then three in a row.
    attempt = run_once(make_agent("bash"), calc_task("REPEATS"), "bash_agent.json")
    assert attempt.exit_status == "step-limit"
    assert attempt.error == "stuck: the same command gave the same output 3 times in a row"
    assert [s.action for s in attempt.steps] == ["echo hi", "echo hi", "ls calc", "echo hi", "echo hi", "echo hi"]
    observations = [m["content"] for m in attempt.messages[3::2]]
    assert len(observations) == 5  # the sixth command ends the attempt instead of being answered
    told = ["this exact command 2 times in a row" in o for o in observations]
    assert told == [False, True, False, False, True]


def test_token_limit():
    attempt = run_once(make_agent("bash", max_total_tokens=300, repeat_limit=0), calc_task("STEP-LIMIT"),
                       "bash_agent.json")
    assert attempt.exit_status == "step-limit" and "token limit" in attempt.error
    assert attempt.prompt_tokens + attempt.completion_tokens >= 300


class ContextWindow:
    """The scripted model behind a context window of `max_messages` messages: past it, the
    ContextLengthError an OpenAI-compatible server's 400 becomes (tests/models: test_openai, test_vllm)."""

    def __init__(self, model, max_messages: int):
        self.model, self.max_messages, self.spec = model, max_messages, model.spec

    def generate(self, conversations, params):
        if any(len(c) > self.max_messages for c in conversations):
            raise ContextLengthError("This model's maximum context length is 2048 tokens")
        return self.model.generate(conversations, params)

    def close(self):
        self.model.close()


def test_a_full_context_ends_the_attempt_like_a_limit_and_keeps_the_fix():
    """A small-context model (vLLM serving Qwen at 2048 tokens) fills its window after a few turns:
    the attempt ends at that limit with its patch, not as an infrastructure failure (which would
    stop the run after a few in a row)."""
    attempt = run_once(make_agent("bash"), calc_task(), "bash_agent.json", wrap=lambda m: ContextWindow(m, 6))
    assert attempt.exit_status == "step-limit"
    assert attempt.error.startswith("context full after 3 replies") and "maximum context length" in attempt.error
    assert [s.action for s in attempt.steps][-1] == "sed -i 's/return a - b/return a + b/' calc/ops.py"
    assert heldout_passes(calc_task(), attempt.patch)


def test_model_error_keeps_what_the_attempt_had():
    attempt = run_once(make_agent("bash"), calc_task("MODEL-ERROR"), "bash_agent.json")
    assert attempt.exit_status == "model-error"
    assert "server exploded (HTTP 500)" in attempt.error
    assert [s.action for s in attempt.steps] == ["ls"]
    assert attempt.messages[-1]["role"] == "user" and attempt.messages[-1]["content"].startswith("exit code: 0")


def test_a_command_past_its_timeout_is_killed_and_reported():
    attempt = run_once(make_agent("bash", command_timeout_s=1.0), calc_task("SLOW-COMMAND"), "bash_agent.json")
    assert attempt.exit_status == "submitted"  # a bare `submit` reply is accepted too
    [step] = attempt.steps
    assert "killed: the command ran past 1 s" in step.observation and "never" not in step.observation
    assert step.duration < 10


def test_parse_action():
    assert parse_action("Look:\n```bash\nls -la\n```") == "ls -la"
    assert parse_action("```sh\ncat a | head\n```\nthen I will see") == "cat a | head"
    for reply in ("```bash\nsubmit\n```", "submit", "`submit`"):
        with pytest.raises(Submitted):
            parse_action(reply)
    for reply in ("just talk", "```bash\nls\n```\n```bash\npwd\n```", "```bash\n   \n```", "```python\nx=1\n```"):
        with pytest.raises(FormatError):
            parse_action(reply)


def test_agent_registry_and_options():
    assert make_agent("bash", max_steps="7").config.max_steps == 7  # strings, as from the CLI
    with pytest.raises(UserError, match="unknown agent 'swe'; known: bash, rewrite"):
        make_agent("swe")
    with pytest.raises(UserError, match="max_stpes.*known: .*max_steps"):
        make_agent("bash", max_stpes=3)
    with pytest.raises(UserError, match="must be of type int"):
        make_agent("bash", max_steps="many")
