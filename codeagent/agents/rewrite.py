"""`rewrite`: single-shot agent for small models. The model sees the problem and the file to
change, answers with one python block, and that block becomes the file (or, for function-level
tasks, the function spliced into the stub). Optional feedback rounds show it the failures of
the task's *visible* tests and let it try again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from codeagent.errors import UserError
from codeagent.models.base import Model, SamplingParams
from codeagent.sandbox.base import Sandbox
from codeagent.tasks.base import Task
from codeagent.trajectory import Attempt, Step

from . import prompts
from .base import (QUIET_ENV, AgentStop, Dialogue, FormatError, Submitted, config_dict,
                   ignore_artefacts, take_patch)
from .codeblocks import python_code, splice_function

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


class RewriteAgent:
    name = "rewrite"
    config_class = RewriteConfig

    def __init__(self, config: RewriteConfig | None = None, **overrides):
        self.config = replace(config or RewriteConfig(), **overrides)

    def config_dict(self) -> dict:
        return config_dict(self.config)

    def check(self, task: Task) -> None:
        target_file(task)

    def run(self, task: Task, sandbox: Sandbox, model: Model, params: SamplingParams,
            attempt: Attempt) -> Attempt:
        path = target_file(task)
        original = task.repo_files[path]
        dialogue = Dialogue(model, replace(params, stop=tuple(params.stop) + self.config.stop), attempt)
        dialogue.say("system", prompts.REWRITE_SYSTEM)
        dialogue.say("user", first_prompt(task, path))
        rounds = self.config.feedback if task.visible_tests else 0
        written = False
        try:
            if rounds:
                ignore_artefacts(sandbox)
            for round_ in range(rounds + 1):
                code = python_code(dialogue.ask(), original if task.entry_point else "")
                if code is None:
                    raise FormatError(prompts.REWRITE_NO_CODE.format(target=task.entry_point or path))
                content = splice_function(original, code, task.entry_point) if task.entry_point else code
                sandbox.write_files({path: content})
                written = True
                attempt.steps.append(Step(action=f"write {path}", observation=f"{len(content)} characters"))
                if round_ == rounds:
                    break
                passed, output = self._visible_tests(task, sandbox, attempt)
                if passed:
                    break
                dialogue.say("user", prompts.REWRITE_FEEDBACK.format(output=output,
                                                                     target=task.entry_point or path))
            raise Submitted()
        except FormatError as e:
            # No code at all: nothing to submit. A feedback round without code keeps the last one.
            attempt.exit_status = "submitted" if written else e.exit_status
            attempt.error = "reply has no python code block" if not written else \
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


class RewriteTaskError(UserError):
    """A task the rewrite agent cannot work on (no single file to rewrite)."""


def target_file(task: Task) -> str:
    """The one file the rewrite agent replaces: the stub of a function-level task, else the
    task's `metadata["edit_file"]`, else the repo's only non-test python file."""
    path = task.prompt_file or task.metadata.get("edit_file")
    if path is None:
        candidates = [p for p in task.repo_files if p.endswith(".py") and p not in task.protected_paths
                      and not p.rsplit("/", 1)[-1].startswith("test")]
        if len(candidates) == 1:
            path = candidates[0]
    if path is None or path not in task.repo_files:
        raise RewriteTaskError(f"task {task.id}: the rewrite agent needs one file to rewrite (prompt_file or "
                               f"metadata.edit_file naming a repo file); use --agent bash for repository tasks")
    return path


def first_prompt(task: Task, path: str) -> str:
    if task.entry_point:
        stub = task.repo_files[path].rstrip("\n")
        text = prompts.REWRITE_FUNCTION.format(entry_point=task.entry_point, path=path, stub=stub)
        problem = task.problem_statement.strip()
        # Function-level task sets use the stub as the statement; say it once.
        return text if problem in stub else f"{problem}\n\n{text}"
    return prompts.REWRITE_FILE.format(problem=task.problem_statement.strip(), path=path,
                                       content=task.repo_files[path].rstrip("\n"))


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters, keeping its head and tail."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n... ({len(text) - 2 * half} characters cut) ...\n{text[-half:]}"
