"""The model seam: generate completions for a batch of chat conversations."""

from __future__ import annotations

from codeagent.errors import UserError

from dataclasses import dataclass, field
from typing import Protocol, Sequence

Message = dict  # {"role": "system"|"user"|"assistant", "content": str}


class ModelError(UserError):
    """A model that cannot load or a server that keeps failing; the message says what to do."""


class ContextLengthError(ModelError):
    """The conversation (plus the reply's token budget) no longer fits the model's context window.
    Not a failure of the model or its server: a multi-turn agent ends the attempt there and keeps
    its work, as it would at a step limit."""


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. temperature 0 means greedy."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    stop: tuple[str, ...] = ()
    """Each sequence stops on its own at the first of these strings (the string is kept out)."""
    seed: int | None = None


@dataclass
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str = "stop"
    """`stop` (EOS or stop string) or `length`."""


class Model(Protocol):
    spec: str
    """The spec string this model was loaded from (recorded in trajectories)."""

    def generate(self, conversations: Sequence[Sequence[Message]],
                 params: SamplingParams = SamplingParams()) -> list[list[Completion]]:
        """For each conversation, `params.n` completions. Thread-safe."""
        ...
