"""The held-out verifier: the task's hidden tests, copied in after the patch, run through the
TestEngine by `heldout_job` — exactly the code path of `codeagent eval`. Repository tasks are
graded by FAIL_TO_PASS / PASS_TO_PASS (`codeagent/repos/jobs.py`); their per-test outcomes are
those node ids'."""

from __future__ import annotations

from typing import Mapping, Sequence

from codeagent.evaluation.base import DEFAULT_TIMEOUT_S, TestJob, TestReport
from codeagent.evaluation.engine import heldout_job
from codeagent.tasks.base import Task

from .base import Candidate, VerifierContext
from .record import HeldoutVerdict


class HeldoutVerifier:
    name = "heldout"
    Part = HeldoutVerdict
    note = ("Held-out tests are the reference: precision 1 by construction (they are hidden from the agent, "
            "but using them for training data means the loop is no longer label-free).")

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S):
        self.timeout_s = timeout_s

    @classmethod
    def create(cls, ctx: VerifierContext) -> "HeldoutVerifier":
        return cls(ctx.config.timeout_s)

    @staticmethod
    def accepts(part: HeldoutVerdict) -> bool:
        return part.passed

    @staticmethod
    def key(c: Candidate) -> str:
        return f"heldout::{c.attempt_id}"

    def jobs(self, task: Task, candidates: Sequence[Candidate]) -> list[TestJob]:
        return [heldout_job(task, c.files, self.key(c), self.timeout_s, patch=c.patch)
                for c in candidates if c.files is not None]

    def judge(self, task: Task, candidates: Sequence[Candidate],
              reports: Mapping[str, TestReport]) -> dict[str, HeldoutVerdict]:
        out = {}
        for c in candidates:
            r = reports.get(self.key(c))
            if c.files is None or r is None:
                out[c.attempt_id] = HeldoutVerdict(passed=False, n_pass=0, n_total=0, per_test={},
                                                   failure_kind="patch-did-not-apply")
            else:
                out[c.attempt_id] = HeldoutVerdict(passed=r.passed, n_pass=r.n_pass, n_total=r.n_total,
                                                   per_test=dict(r.per_test), failure_kind=r.failure_kind)
        return out
