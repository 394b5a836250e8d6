"""The generated verifier: every candidate of a task against every sanitized generated test,
then dual execution agreement (CodeT, `agreement.py`) picks the accepted cluster.

The tests themselves come from `testgen.py`: written once per task by a model when the verifier
is created (`create`), stored in the run folder's generated tests and reused on rerun. Judging is
a pure function of those tests and the reports.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Mapping, Sequence

from codeagent.evaluation.base import DEFAULT_TIMEOUT_S, TestJob, TestReport
from codeagent.evaluation.engine import function_judge
from codeagent.models import widen_batch
from codeagent.progress import ProgressBar
from codeagent.runfolder import CONFIG_FILE
from codeagent.tasks.base import Task

from .agreement import codet_rank
from .base import Candidate, VerifierContext, VerifyError
from .probe import assert_pairs
from .record import GeneratedVerdict
from .testgen import GENERATED_TEST_FILE, GeneratedTests, generate_tests, generated_test_file


class GeneratedVerifier:
    name = "generated"
    Part = GeneratedVerdict
    note = ("Model-generated tests with dual-execution agreement; precision measured against held-out tests "
            "(gap_report.json).")
    baselines = {"passes_all": lambda part: part.passes_all}
    """Simpler rules on the same part, measured beside it in the gap report."""

    @classmethod
    def create(cls, ctx: VerifierContext) -> "GeneratedVerifier":
        return cls(ensure_tests(ctx), ctx.config.timeout_s)

    @staticmethod
    def accepts(part: GeneratedVerdict) -> bool:
        return part.accepted

    def probe_inputs(self, task: Task) -> list:
        """Inputs of the task's generated asserts, for the always-equal probe."""
        gen = self.tests.get(task.id)
        if not gen or not task.entry_point:
            return []
        return [args for src in gen.tests for args, _ in assert_pairs(src, task.entry_point)]

    def passed_pairs(self, task: Task, c: Candidate, reports: Mapping[str, TestReport]) -> list:
        """(input, output) pairs of the generated asserts `c` passed."""
        gen = self.tests.get(task.id)
        if not gen or not task.entry_point:
            return []
        passed = self.passed_tests(c, reports)
        return [p for src in gen.tests if _test_name(src) in passed for p in assert_pairs(src, task.entry_point)]

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

    def outcomes(self, c: Candidate, reports: Mapping[str, TestReport]) -> dict[str, str]:
        """Generated test name -> outcome of candidate `c` (empty when it did not run)."""
        r = reports.get(self.key(c))
        return {} if r is None else {name.split("::", 1)[-1]: outcome for name, outcome in r.per_test.items()}

    def passed_tests(self, c: Candidate, reports: Mapping[str, TestReport]) -> frozenset[str]:
        return frozenset(name for name, outcome in self.outcomes(c, reports).items() if outcome == "passed")

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
                passes_all=c.eligible and n_tests > 0 and n == n_tests, per_test=self.outcomes(c, reports))
        return out


def _test_name(src: str) -> str:
    return src.split("(", 1)[0].removeprefix("def ").strip()


def ensure_tests(ctx: VerifierContext) -> dict[str, GeneratedTests]:
    """Generated tests of `ctx.tasks`: read from the run folder, the missing ones written by the model
    (in batches of tasks, each appended as soon as it is written: a kill loses one batch at most)."""
    cfg, run = ctx.config, ctx.run
    store = run.generated_tests()
    missing = [t for t in ctx.tasks if t.id not in store]
    if not missing:
        return store
    model = ctx.model
    if model is None:
        if not ctx.model_spec:
            raise VerifyError(f"{run.file(CONFIG_FILE)} names no model; pass --model SPEC to write the generated tests")
        from codeagent.models import load_model
        model = load_model(ctx.model_spec)
    batch = max(1, cfg.concurrency // cfg.samples)  # tasks per call: batched, yet resumable
    widen_batch(model, batch * cfg.samples)  # decode one call's replies together
    with ProgressBar("writing tests", len(missing), enabled=cfg.progress) as bar, run.generated_tests_writer() as out:
        for i in range(0, len(missing), batch):
            part = missing[i:i + batch]
            able = [t for t in part if t.entry_point]
            made = {g.task_id: g for g in generate_tests(model, able, samples=cfg.samples, n_tests=cfg.n_tests,
                                                           temperature=cfg.temperature)} if able else {}
            for t in part:
                g = made.get(t.id) or GeneratedTests(t.id, model.spec, [], [], dropped=[
                    {"source": "", "reason": "task has no entry point: tests cannot be generated"}])
                out.append(g.to_dict())
                store[t.id] = g
                bar.advance()
    return store
