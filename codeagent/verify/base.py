"""The verifier seam: candidates of one task in, one verdict part per candidate out.

A verifier never runs code itself. It says which TestJobs it needs (`jobs`), the stage runs them
through the shared TestEngine (the same code path as `codeagent eval`), and `judge` turns the
reports into verdict parts: a pure function of (task, candidates, execution results), testable
without a model or a sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Protocol, Sequence

from codeagent.errors import UserError
from codeagent.evaluation.base import TestJob, TestReport
from codeagent.tasks.base import Task

from .record import HackFlag


class VerifyError(UserError):
    """A run dir or option `codeagent verify` cannot work with; the message says what to do."""


@dataclass
class Candidate:
    """One attempt of a run, as the verifiers see it."""

    attempt_id: str
    task_id: str
    sample_index: int
    patch: str
    files: dict[str, str] | None
    """The task repo with the patch applied; None when the patch is empty or does not apply."""
    patch_error: str | None = None
    hack_flags: list[HackFlag] = field(default_factory=list)
    """Filled by the hack guard before any verifier judges (static first, then probes)."""

    @property
    def eligible(self) -> bool:
        """Can a verifier count this candidate as a success at all?"""
        return self.files is not None and not self.hack_flags


class Verifier(Protocol):
    name: str
    """Registry key, and the field of `Verdict` this verifier fills."""

    def jobs(self, task: Task, candidates: Sequence[Candidate]) -> list[TestJob]:
        """The test jobs needed to judge `candidates` (all of one task). Keys are unique per run."""
        ...

    def judge(self, task: Task, candidates: Sequence[Candidate],
              reports: Mapping[str, TestReport]) -> dict[str, object]:
        """attempt_id -> this verifier's verdict part, from the reports of `jobs` (by key)."""
        ...
