"""The export seam: one clean training example per kept attempt, and the Format protocol that
writes a list of them in one on-disk format."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from codeagent.errors import UserError
from codeagent.trajectory import Step


class ExportError(UserError):
    """A run dir, verdict file or option the export stage cannot use; the message says the fix."""


@dataclass
class Example:
    """One attempt turned into a chat conversation fit for supervised fine-tuning."""

    attempt_id: str
    run_id: str
    task_id: str
    task_set: str
    family: str
    messages: list[dict]
    """system/user/assistant messages, `content` always a string; the last one is the assistant's."""
    steps: list[Step] = field(default_factory=list)
    """Multi-turn (bash) attempts: the actions and observations behind `messages`; empty otherwise."""
    code: str = ""
    """The patched solution (the prompt file, else every file the patch touches); what dedup compares."""

    @property
    def uid(self) -> str:
        """Unique across runs (attempt ids repeat from run to run)."""
        return f"{self.run_id}:{self.attempt_id}"

    @property
    def prompt_text(self) -> str:
        """What the model is shown (user and observation turns), for n-gram decontamination."""
        return "\n".join(m["content"] for m in self.messages if m["role"] == "user")


class Format(Protocol):
    """An on-disk training-data format (the registry key is its module name)."""

    name: str
    description: str

    def write(self, examples: list[Example], out: Path) -> list[Path]:
        """Write `examples` under `out`; return the paths written (data files only)."""
        ...
