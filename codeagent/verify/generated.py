"""The generated verifier: every candidate of a task against every sanitized generated test,
then dual execution agreement (CodeT, `agreement.py`) picks the accepted cluster.

The tests themselves come from `testgen.py` (written once per task by a model, stored in
generated_tests.jsonl); this verifier is a pure function of those tests and the reports.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Mapping, Sequence

from codeagent.evaluation.base import DEFAULT_TIMEOUT_S, TestJob, TestReport
from codeagent.evaluation.engine import function_judge
from codeagent.tasks.base import Task

from .agreement import codet_rank
from .base import Candidate, VerifyError
from .record import GeneratedVerdict
from .testgen import GENERATED_TEST_FILE, GeneratedTests, generated_test_file


class GeneratedVerifier:
    name = "generated"

    def __init__(self, tests: Mapping[str, GeneratedTests], timeout_s: float = DEFAULT_TIMEOUT_S):
        """tests: task id -> its generated tests (a task missing here is a bug of the caller)."""
        self.tests = tests
        self.timeout_s = timeout_s

    @staticmethod
    def key(c: Candidate) -> str:
        return f"generated::{c.attempt_id}"

    def module(self, task: Task) -> str | None:
        """The generated test file for `task`, or None when no usable test was generated."""
        gen = self.tests.get(task.id)
        if gen is None:
            raise VerifyError(f"no generated tests for task {task.id}; generate them first")
        if not gen.tests or not task.entry_point or not (task.prompt_file or "").endswith(".py"):
            return None
        module = PurePosixPath(task.prompt_file).with_suffix("").as_posix().replace("/", ".")
        return generated_test_file(gen, module, task.entry_point)

    def jobs(self, task: Task, candidates: Sequence[Candidate]) -> list[TestJob]:
        source = self.module(task)
        if source is None:
            return []
        # Hack-flagged candidates still run: their results are recorded, they are just never accepted.
        return [TestJob(key=self.key(c), files=dict(c.files), test_files={GENERATED_TEST_FILE: source},
                        timeout_s=self.timeout_s, judge=function_judge(task)) for c in candidates if c.files is not None]

    def passed_tests(self, c: Candidate, reports: Mapping[str, TestReport]) -> frozenset[str]:
        r = reports.get(self.key(c))
        if r is None:
            return frozenset()
        return frozenset(name.split("::", 1)[-1] for name, outcome in r.per_test.items() if outcome == "passed")

    def judge(self, task: Task, candidates: Sequence[Candidate],
              reports: Mapping[str, TestReport]) -> dict[str, GeneratedVerdict]:
        n_tests = len(self.tests[task.id].tests) if self.module(task) is not None else 0
        passed = {c.attempt_id: self.passed_tests(c, reports) for c in candidates}
        # Empty, unappliable or hack-flagged candidates neither get accepted nor lend agreement.
        ranked = codet_rank({c.attempt_id: passed[c.attempt_id] for c in candidates if c.eligible})
        out = {}
        for c in candidates:
            n = len(passed[c.attempt_id])
            rank = ranked.get(c.attempt_id)
            out[c.attempt_id] = GeneratedVerdict(
                accepted=bool(rank and rank.accepted), tests_passed=n, n_tests=n_tests,
                cluster_size=rank.cluster_size if rank else 0, cluster_score=rank.cluster_score if rank else 0.0,
                passes_all=c.eligible and n_tests > 0 and n == n_tests)
        return out
