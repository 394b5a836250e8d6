"""`bash`: multi-turn agent for strong models. Each turn the model writes one shell command in
one ```bash block; it runs in the task's sandbox and the exit code and output come back as the
next user message, until the model submits (a block holding only `submit`) or a limit is hit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from codeagent.models.base import Model, SamplingParams
from codeagent.sandbox.base import Sandbox
from codeagent.tasks.base import Task
from codeagent.trajectory import Attempt, Step

from . import prompts
from .base import (QUIET_ENV, AgentStop, Dialogue, FormatError, LimitsExceeded, Submitted, config_dict,
                   ignore_artefacts, take_patch)
from .codeblocks import SHELL_LANGS, code_blocks
from .rewrite import clip

SUBMIT = "submit"


@dataclass(frozen=True)
class BashConfig:
    max_steps: int = 30
    """Most model turns (commands, submit and malformed replies all count)."""
    max_total_tokens: int = 200_000
    """Most prompt + completion tokens summed over all turns (the whole chat is re-sent each turn)."""
    wall_time_s: float = 900.0
    """Most seconds for the whole attempt, model time included."""
    command_timeout_s: float = 60.0
    """Wall-clock limit of one command; its whole process tree is killed past it."""
    observation_chars: int = 4000
    """Most characters of output shown per command (head and tail kept)."""
    max_format_errors: int = 3
    """Malformed replies in a row after which the attempt ends with `format-error`."""
    files_listed: int = 200
    """Most repository paths listed in the first message."""
    repeat_limit: int = 3
    """The same command giving the same output this many times in a row ends the attempt as a
    step limit (0: never). Greedy decoding of a small model loops on its own failed command
    (measured: 7 of 8 Qwen-0.5B attempts spent their whole budget on one failing `sed`); each
    repeat is also told so in its observation, which is all a model can act on."""


class BashAgent:
    name = "bash"
    config_class = BashConfig

    def __init__(self, config: BashConfig | None = None, **overrides):
        self.config = replace(config or BashConfig(), **overrides)

    def config_dict(self) -> dict:
        return config_dict(self.config)

    def check(self, task: Task) -> None:
        """Any task with a repository will do."""

    def run(self, task: Task, sandbox: Sandbox, model: Model, params: SamplingParams,
            attempt: Attempt) -> Attempt:
        cfg = self.config
        dialogue = Dialogue(model, params, attempt)
        dialogue.say("system", prompts.BASH_SYSTEM)
        dialogue.say("user", prompts.BASH_TASK.format(problem=task.problem_statement.strip(),
                                                      files=file_list(task.repo_files, cfg.files_listed)))
        started = time.monotonic()
        format_errors = 0
        repeats = RepeatWatch(cfg.repeat_limit)
        try:
            ignore_artefacts(sandbox)
            while True:
                self._check_limits(dialogue, started)
                try:
                    command = parse_action(dialogue.ask())
                except FormatError as e:
                    format_errors += 1
                    attempt.steps.append(Step(action="", observation=str(e)))
                    if format_errors >= cfg.max_format_errors:
                        raise FormatError(f"{format_errors} malformed replies in a row; last: {e}") from None
                    dialogue.say("user", str(e))
                    continue
                format_errors = 0
                observation = self._execute(command, sandbox, attempt)
                dialogue.say("user", repeats.observe(command, observation))
        except AgentStop as e:
            attempt.exit_status = e.exit_status
            attempt.error = None if isinstance(e, Submitted) else str(e)
        attempt.timings["agent_s"] = round(time.monotonic() - started, 3)
        if attempt.exit_status != "sandbox-error":
            take_patch(sandbox, attempt)
        return attempt

    def _check_limits(self, dialogue: Dialogue, started: float) -> None:
        cfg, a = self.config, dialogue.attempt
        if dialogue.turns >= cfg.max_steps:
            raise LimitsExceeded(f"step limit reached ({cfg.max_steps} steps)")
        if a.prompt_tokens + a.completion_tokens >= cfg.max_total_tokens:
            raise LimitsExceeded(f"token limit reached ({a.prompt_tokens + a.completion_tokens} "
                                 f">= {cfg.max_total_tokens})")
        if time.monotonic() - started >= cfg.wall_time_s:
            raise LimitsExceeded(f"wall time limit reached ({cfg.wall_time_s:g} s)")

    def _execute(self, command: str, sandbox: Sandbox, attempt: Attempt) -> str:
        r = sandbox.exec(command, timeout=self.config.command_timeout_s, env=QUIET_ENV)
        output = r.stdout + (("\n" if r.stdout and not r.stdout.endswith("\n") else "") + r.stderr if r.stderr else "")
        note = ""
        if r.timed_out:
            note = f" (killed: the command ran past {self.config.command_timeout_s:g} s)"
        elif r.error:
            note = f" ({r.error})"
        observation = prompts.BASH_OBSERVATION.format(
            exit_code=r.exit_code if r.exit_code is not None else "none", note=note,
            output=clip(output.rstrip("\n"), self.config.observation_chars) or "(no output)")
        attempt.steps.append(Step(action=command, observation=observation, exit_code=r.exit_code,
                                  duration=round(r.duration, 3)))
        return observation


class RepeatWatch:
    """Counts one command repeated with the same output, consecutively: the second time on, the
    observation says so; at `limit` the attempt ends (LimitsExceeded)."""

    def __init__(self, limit: int):
        self.limit, self.last, self.count = limit, None, 0

    def observe(self, command: str, observation: str) -> str:
        key = (command, observation)
        self.count = self.count + 1 if key == self.last else 1
        self.last = key
        if self.limit and self.count >= self.limit:
            raise LimitsExceeded(f"stuck: the same command gave the same output {self.count} times in a row")
        if self.count == 1:
            return observation
        return observation + "\n\n" + prompts.BASH_REPEATED.format(times=self.count)


def parse_action(reply: str) -> str:
    """The one shell command of `reply`. Raises Submitted or FormatError (with the correction)."""
    blocks = [b for b in code_blocks(reply) if b.lang in SHELL_LANGS]
    if not blocks:
        if reply.strip().strip("`").strip() == SUBMIT:
            raise Submitted()
        raise FormatError(prompts.BASH_FORMAT_ERROR.format(problem="your reply has no ```bash block."))
    if len(blocks) > 1:
        raise FormatError(prompts.BASH_FORMAT_ERROR.format(problem=f"your reply has {len(blocks)} code blocks."))
    command = blocks[0].code.strip()
    if command == SUBMIT:
        raise Submitted()
    if not command:
        raise FormatError(prompts.BASH_FORMAT_ERROR.format(problem="your ```bash block is empty."))
    return command


def file_list(files: dict, limit: int) -> str:
    paths = sorted(files)
    shown = "\n".join(paths[:limit])
    return shown + (f"\n... and {len(paths) - limit} more" if len(paths) > limit else "")
