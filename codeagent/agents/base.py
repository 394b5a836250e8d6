"""The agent seam: one protocol, the control-flow exceptions of an agent loop, and the
bookkeeping every agent shares (talking to the model, recording tokens, taking the patch).

An agent sees only `task.problem_statement`, `task.repo_files` (through the sandbox, which the
run stage opens from them alone) and, if it wants, `task.visible_tests`. Never `heldout_tests`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, replace
from typing import Protocol

from codeagent.models.base import ContextLengthError, Model, SamplingParams
from codeagent.sandbox.base import Sandbox
from codeagent.tasks.base import Task
from codeagent.trajectory import Attempt


class AgentStop(Exception):
    """Base of the exceptions that end an agent loop; `exit_status` is what the attempt records."""

    exit_status = "submitted"


class Submitted(AgentStop):
    """The agent says it is done."""

    exit_status = "submitted"


class LimitsExceeded(AgentStop):
    """Steps, tokens, wall time or the model's context window ran out."""

    exit_status = "step-limit"


class FormatError(AgentStop):
    """The reply is not a well-formed action. Its message is the correction shown to the model;
    an agent that cannot recover (or one that has no retries) ends with `format-error`."""

    exit_status = "format-error"


class ModelFailed(AgentStop):
    """The model raised (server down, context too long, …); the attempt keeps what it had."""

    exit_status = "model-error"


class Agent(Protocol):
    """Turns (task, sandbox, model) into an attempt whose artefact is `sandbox.diff()`."""

    name: str
    """Registry key (`rewrite`, `bash`), recorded in every attempt."""
    config_class: type
    """The agent's config dataclass; `make_agent(name, **options)` overrides its fields."""

    def check(self, task: Task) -> None:
        """Raise a UserError if this agent cannot work on `task` (checked before a run starts)."""
        ...

    def config_dict(self) -> dict:
        """The agent's full configuration, recorded with every attempt and in config.json."""
        ...

    def run(self, task: Task, sandbox: Sandbox, model: Model, params: SamplingParams,
            attempt: Attempt) -> Attempt:
        """Work on `task` in `sandbox` (already holding `task.repo_files`), filling `attempt`
        (messages, steps, tokens, patch, exit_status, error) in place; returns it.

        Never raises for the model's or the candidate's failures: they end up in exit_status.
        """
        ...


class Dialogue:
    """The chat of one attempt: appends to `attempt.messages` and counts tokens as it goes."""

    def __init__(self, model: Model, params: SamplingParams, attempt: Attempt):
        self.model = model
        self.params = replace(params, n=1)
        self.attempt = attempt
        self.turns = 0

    def say(self, role: str, content: str) -> None:
        self.attempt.messages.append({"role": role, "content": content})

    def ask(self) -> str:
        """The model's next reply (appended to the chat). Model exceptions become ModelFailed."""
        params = self.params
        if params.seed is not None and self.turns:
            # A fresh but reproducible stream per turn, so a retry does not replay the last reply.
            params = replace(params, seed=derive_seed(params.seed, "turn", self.turns))
        self.turns += 1
        started = time.monotonic()
        try:
            completion = self.model.generate([list(self.attempt.messages)], params)[0][0]
        except ContextLengthError as e:  # the chat outgrew the model: a limit of this attempt, not a failure
            raise LimitsExceeded(f"context full after {self.turns - 1} replies: {e}") from e
        except Exception as e:  # any backend failure is data about this attempt, not a crash
            raise ModelFailed(f"{type(e).__name__}: {e}") from e
        finally:
            t = self.attempt.timings
            t["model_s"] = round(t.get("model_s", 0.0) + time.monotonic() - started, 3)
        self.attempt.prompt_tokens += completion.prompt_tokens
        self.attempt.completion_tokens += completion.completion_tokens
        self.attempt.messages.append({"role": "assistant", "content": completion.text,
                                      "finish_reason": completion.finish_reason})
        return completion.text


def derive_seed(seed: int, *parts) -> int:
    """A seed determined by `seed` and `parts`, stable across processes and Python runs (sha256,
    not hash()). 31 bits: servers that read `seed` as an int32 accept it."""
    h = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(h[:4], "big") >> 1


def take_patch(sandbox: Sandbox, attempt: Attempt) -> None:
    """Record `sandbox.diff()` as the attempt's patch; a broken sandbox becomes sandbox-error."""
    try:
        attempt.patch = sandbox.diff()
    except Exception as e:  # a dead sandbox must not lose the attempt's transcript
        attempt.patch = ""
        attempt.exit_status = "sandbox-error"
        attempt.error = f"could not take the diff: {type(e).__name__}: {e}"


# Byte-code and tool caches that running Python in the repo leaves behind; they are not the
# agent's work and would put binary noise into patches.
IGNORED_ARTEFACTS = ("__pycache__/", "*.pyc", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/")
QUIET_ENV = {"PYTHONDONTWRITEBYTECODE": "1"}


def ignore_artefacts(sandbox: Sandbox) -> None:
    """Keep caches out of `sandbox.diff()` (git's own exclude file, not part of the repo)."""
    lines = "\\n".join(IGNORED_ARTEFACTS)
    sandbox.exec(f"mkdir -p .git/info && printf '{lines}\\n' >> .git/info/exclude", timeout=10)


def config_dict(config) -> dict:
    return asdict(config)
