"""`rewrite`: single-shot agent for small models. The model sees the problem and the code to
change, answers with one python block, and that block becomes the file, or the function spliced
into the stub (function-level tasks) or in place of the old one (repository tasks whose metadata
names the file and function; see `targets.py`). The patch is the sandbox's git diff. Optional
feedback rounds show it the failures of the task's *visible* tests and let it try again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from codeagent.models.base import Model, SamplingParams
from codeagent.sandbox.base import Sandbox
from codeagent.tasks.base import Task
from codeagent.trajectory import Attempt, Step

from . import prompts
from .base import (QUIET_ENV, AgentStop, Dialogue, FormatError, Submitted, config_dict,
                   ignore_artefacts, take_patch)
from .codeblocks import python_code
from .targets import RewriteTaskError, Target, target_file, target_for  # noqa: F401 (RewriteTaskError, target_file: re-exported)

# Runs `test_*` functions of the visible test files given as arguments; prints one line per test
# and short tracebacks (the model reads them). Visible tests are examples for the agent, not a
# verdict, so this need not resist a hostile candidate; the held-out runner does that.
VISIBLE_RUNNER = r'''
import importlib.util, sys, traceback
sys.path.insert(0, ".")
failed = 0
for i, path in enumerate(sys.argv[1:]):
    spec = importlib.util.spec_from_file_location(f"_visible_{i}", path)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        failed += 1
        print(f"{path}: error while importing")
        traceback.print_exc(limit=-3, file=sys.stdout)
        continue
    for name, fn in list(vars(mod).items()):
        if not (name.startswith("test") and callable(fn)):
            continue
        try:
            fn()
            print(f"{path}::{name} passed")
        except BaseException:
            failed += 1
            print(f"{path}::{name} FAILED")
            traceback.print_exc(limit=-3, file=sys.stdout)
sys.exit(1 if failed else 0)
'''


@dataclass(frozen=True)
class RewriteConfig:
    feedback: int = 0
    """Extra rounds in which failures of the task's visible tests are shown and the model retries
    (0: single shot). Tasks without visible tests get no feedback rounds."""
    stop: tuple[str, ...] = ("\n```\n",)
    """Stop strings added to sampling. The closing fence of the answer block ends generation, so
    a small model cannot ramble to the token limit; the opening fence (```python) and a fence
    at the very start of the reply do not match, so the answer itself is never cut off."""
    feedback_timeout_s: float = 20.0
    """Wall-clock limit of one visible-test run."""
    feedback_chars: int = 2000
    """Most characters of test output shown to the model per round (head and tail kept)."""
    file_levels: tuple[int, ...] = (1,)
    """Repository tasks localized to a function: localization levels at which its file is shown
    beside the function (level 1 names the function; at 2 and 3 the model sees the function alone)."""
    max_file_chars: int = 3000
    """... the whole file when it is at most this long, else its outline (imports and def lines)
    cut to this length: whole library modules would crowd a small model's context out."""


class RewriteAgent:
    name = "rewrite"
    config_class = RewriteConfig

    def __init__(self, config: RewriteConfig | None = None, **overrides):
        self.config = replace(config or RewriteConfig(), **overrides)

    def config_dict(self) -> dict:
        return config_dict(self.config)

    def check(self, task: Task) -> None:
        self.target(task)

    def target(self, task: Task) -> Target:
        return target_for(task, self.config.file_levels, self.config.max_file_chars)

    def run(self, task: Task, sandbox: Sandbox, model: Model, params: SamplingParams,
            attempt: Attempt) -> Attempt:
        target = self.target(task)
        path = target.path
        dialogue = Dialogue(model, replace(params, stop=tuple(params.stop) + self.config.stop), attempt)
        dialogue.say("system", prompts.REWRITE_SYSTEM)
        dialogue.say("user", target.prompt)
        rounds = self.config.feedback if task.visible_tests else 0
        written, why = False, ""
        try:
            if rounds:
                ignore_artefacts(sandbox)
            for round_ in range(rounds + 1):
                code = python_code(dialogue.ask(), target.context)
                content = None if code is None else target.splice(code)
                if content is None:
                    why = "reply has no python code block" if code is None else \
                        f"the reply's code has no definition of `{target.name}`"
                    raise FormatError(prompts.REWRITE_NO_CODE.format(target=target.name))
                sandbox.write_files({path: content})
                written = True
                attempt.steps.append(Step(action=f"write {path}", observation=f"{len(content)} characters"))
                if round_ == rounds:
                    break
                passed, output = self._visible_tests(task, sandbox, attempt)
                if passed:
                    break
                dialogue.say("user", prompts.REWRITE_FEEDBACK.format(output=output, target=target.name))
            raise Submitted()
        except FormatError as e:
            # No code at all: nothing to submit. A feedback round without code keeps the last one.
            attempt.exit_status = "submitted" if written else e.exit_status
            attempt.error = why if not written else \
                "a feedback reply had no code block; the previous code was kept"
        except AgentStop as e:
            attempt.exit_status = e.exit_status
            attempt.error = str(e) or None
        if written:
            take_patch(sandbox, attempt)
        return attempt

    def _visible_tests(self, task: Task, sandbox: Sandbox, attempt: Attempt) -> tuple[bool, str]:
        started = time.monotonic()
        added = [p for p in sorted(task.visible_tests) if p not in task.repo_files]
        sandbox.write_files(task.visible_tests)
        try:
            r = sandbox.exec(["python3", "-B", "-c", VISIBLE_RUNNER, *sorted(task.visible_tests)],
                             timeout=self.config.feedback_timeout_s, env=QUIET_ENV)
        finally:
            if added:  # they were written only for this run; they must not end up in the patch
                sandbox.exec(["rm", "-f", "--", *added], timeout=10)
        output = (r.stdout + r.stderr).strip()
        if r.timed_out:
            output += f"\n(timed out after {self.config.feedback_timeout_s:g} s)"
        output = clip(output, self.config.feedback_chars)
        attempt.steps.append(Step(action="run visible tests", observation=output, exit_code=r.exit_code,
                                  duration=round(time.monotonic() - started, 3)))
        return r.ok, output


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its head and tail."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... ({len(text) - 2 * half} characters cut) ...\n{text[-half:]}"
