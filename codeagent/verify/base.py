"""The verifier seam: candidates of one task in, one verdict part per candidate out.

A verifier never runs code itself. It says which TestJobs it needs (`jobs`), the stage runs them
through the shared TestEngine (the same code path as `codeagent eval`), and `judge` turns the
reports into verdict parts: a pure function of (task, candidates, execution results), testable
without a model or a sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence, runtime_checkable

from codeagent.errors import UserError
from codeagent.evaluation.base import TestJob, TestReport
from codeagent.models.base import Model
from codeagent.runfolder import RunFolder
from codeagent.tasks.base import Task

if TYPE_CHECKING:
    from .stage import VerifyConfig

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


@dataclass
class VerifierContext:
    """What a verifier may need to get ready for a run (e.g. the model that writes its tests)."""

    run: RunFolder
    tasks: Sequence[Task]
    """The tasks about to be verified (those with attempts lacking a verdict part)."""
    config: "VerifyConfig"
    model: Model | None = None
    """A model handed in by the caller (else the verifier loads `model_spec` itself, if it needs one)."""
    model_spec: str | None = None


class Verifier(Protocol):
    name: str
    """Registry key, and the key of its part in `Verdict.parts`."""
    Part: type
    """The dataclass of this verifier's verdict part."""

    @classmethod
    def create(cls, ctx: VerifierContext) -> "Verifier":
        """A verifier ready to judge `ctx.tasks` (anything it needs beforehand is made here)."""
        ...

    def key(self, c: Candidate) -> str:
        """The key of `c`'s test job (unique per run)."""
        ...

    def jobs(self, task: Task, candidates: Sequence[Candidate]) -> list[TestJob]:
        """The test jobs needed to judge `candidates` (all of one task)."""
        ...

    def judge(self, task: Task, candidates: Sequence[Candidate],
              reports: Mapping[str, TestReport]) -> dict[str, object]:
        """attempt_id -> this verifier's verdict part, from the reports of `jobs` (by key)."""
        ...

    @staticmethod
    def accepts(part) -> bool:
        """Does this part count the attempt as a success? (Hack flags are checked by the caller:
        `codeagent.verify.accepts`.)"""
        ...


@runtime_checkable
class KnowsExamples(Protocol):
    """A verifier whose tests hold input/output examples the hack guard can use: inputs for the
    always-equal probe, and the pairs a candidate satisfied (to spot hard-coded outputs)."""

    def probe_inputs(self, task: Task) -> list:
        ...

    def passed_pairs(self, task: Task, c: Candidate, reports: Mapping[str, TestReport]) -> list:
        ...


@runtime_checkable
class FollowsUp(Protocol):
    """A verifier that needs a second round of test jobs chosen from the first round's reports (e.g.
    mutants of the solution its tests agreed on). The stage runs them after the hack guard, before
    `judge`, which then sees both rounds' reports."""

    def followup_jobs(self, task: Task, candidates: Sequence[Candidate],
                      reports: Mapping[str, TestReport]) -> list[TestJob]:
        ...
