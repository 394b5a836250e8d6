"""The generated verifier: every candidate of a task against every sanitized generated test,
then dual execution agreement (CodeT, `agreement.py`) picks the accepted cluster.

The tests themselves come from `testgen.py`: written once per task by a model when the verifier
is created (`create`), stored in the run folder's generated tests and reused on rerun. Judging is
a pure function of those tests and the reports.

Repository tasks localized to a function get tests that import it from its module; each
attempt's job applies its patch to the task's repo in a fresh sandbox and runs the generated file
with the repository pytest driver (`codeagent.repos.gentests`). Agreement, thresholds and hack
flags then work exactly as for function tasks.

Optionally (`VerifyConfig.mutation`; function-level tasks only) the tests' adequacy is checked:
the accepted solution's mutants (`mutation.py`) are run against the same tests in a second round of
jobs (`followup_jobs`); the fraction killed is the task's mutation score, and in "filter" mode the
agreement is re-ranked on only the tests that kill some mutant, so a test set that kills none
accepts nothing. Agreement thresholds (`min_cluster_size`, `min_tests_passed`) apply to both.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Mapping, Sequence

from codeagent.evaluation.base import DEFAULT_TIMEOUT_S, TestJob, TestReport
from codeagent.evaluation.engine import function_judge
from codeagent.models import widen_batch
from codeagent.progress import ProgressBar
from codeagent.runfolder import CONFIG_FILE
from codeagent.tasks.base import Task

from .agreement import codet_rank
from .mutation import Mutant, mutants
from .base import Candidate, VerifierContext, VerifyError
from .probe import assert_pairs
from .record import GeneratedVerdict
from .testgen import GENERATED_TEST_FILE, GeneratedTests, generate_tests, generated_test_file, target_of


class GeneratedVerifier:
    name = "generated"
    Part = GeneratedVerdict
    note = ("Model-generated tests with dual-execution agreement; precision measured against held-out tests "
            "(gap_report.json).")
    baselines = {"passes_all": lambda part: part.passes_all}
    """Simpler rules on the same part, measured beside it in the gap report."""

    @classmethod
    def create(cls, ctx: VerifierContext) -> "GeneratedVerifier":
        cfg = ctx.config
        if cfg.mutation not in MUTATION_MODES:
            raise VerifyError(f"verify.mutation must be one of {', '.join(map(str, MUTATION_MODES))}; "
                              f"got {cfg.mutation!r}")
        repo = sum(t.is_repository_task for t in ctx.tasks)
        if repo and cfg.mutation is not None:
            print(f"note: mutation adequacy is function-level only: not measured on the {repo} repository "
                  "task(s) here (their agreement uses every generated test)", file=sys.stderr)
        return cls(ensure_tests(ctx), cfg.timeout_s, Thresholds(cfg.min_cluster_size, cfg.min_tests_passed),
                   cfg.mutation, cfg.mutants)

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

    def __init__(self, tests: Mapping[str, GeneratedTests], timeout_s: float = DEFAULT_TIMEOUT_S,
                 thresholds: "Thresholds | None" = None, mutation: str | None = None, n_mutants: int = 8):
        """tests: task id -> its generated tests (a task missing here is a bug of the caller).
        mutation: None, "report" or "filter" (see `VerifyConfig.mutation`)."""
        self.tests = tests
        self.timeout_s = timeout_s
        self.thresholds = thresholds or Thresholds()
        self.mutation = mutation
        self.n_mutants = n_mutants

    @staticmethod
    def key(c: Candidate) -> str:
        return f"generated::{c.attempt_id}"

    def module(self, task: Task) -> str | None:
        """The generated test file for `task`, or None when no usable test was generated."""
        gen = self.tests.get(task.id)
        if gen is None:
            raise VerifyError(f"no generated tests for task {task.id}; generate them first")
        target = target_of(task)
        if not gen.tests or target is None:
            return None
        return generated_test_file(gen, *target)

    def jobs(self, task: Task, candidates: Sequence[Candidate]) -> list[TestJob]:
        source = self.module(task)
        if source is None:
            return []
        # Hack-flagged candidates still run: their results are recorded, they are just never accepted.
        return [self._job(task, c, source) for c in candidates if c.files is not None]

    def _job(self, task: Task, c: Candidate, source: str) -> TestJob:
        if task.is_repository_task:  # the patch applied by git to the task's repo, as held-out grading does
            from codeagent.repos.gentests import generated_job
            return generated_job(task, c.patch, self.key(c), source)
        return TestJob(key=self.key(c), files=dict(c.files), test_files={GENERATED_TEST_FILE: source},
                       timeout_s=self.timeout_s, judge=function_judge(task))

    def outcomes(self, c: Candidate, reports: Mapping[str, TestReport]) -> dict[str, str]:
        """Generated test name -> outcome of candidate `c` (empty when it did not run)."""
        r = reports.get(self.key(c))
        return {} if r is None else {name.split("::", 1)[-1]: outcome for name, outcome in r.per_test.items()}

    def passed_tests(self, c: Candidate, reports: Mapping[str, TestReport]) -> frozenset[str]:
        return frozenset(name for name, outcome in self.outcomes(c, reports).items() if outcome == "passed")

    def _rank(self, passed: Mapping[str, frozenset[str]]) -> dict:
        return codet_rank(passed, self.thresholds.min_cluster_size, self.thresholds.min_tests_passed)

    def _first_pass(self, task: Task, candidates: Sequence[Candidate], reports: Mapping[str, TestReport]):
        """(tests each eligible candidate passed, their ranking on all tests, the accepted candidate
        with the lowest sample index or None)."""
        # Empty, unappliable or hack-flagged candidates neither get accepted nor lend agreement.
        passed = {c.attempt_id: self.passed_tests(c, reports) for c in candidates if c.eligible}
        ranked = self._rank(passed)
        accepted = [c for c in candidates if c.attempt_id in ranked and ranked[c.attempt_id].accepted]
        return passed, ranked, min(accepted, key=lambda c: c.sample_index, default=None)

    def _mutants(self, task: Task, solution: Candidate | None) -> list[Mutant]:
        if self.mutation is None or solution is None or not task.entry_point or self.module(task) is None:
            return []  # function-level only: mutants are made of the stub file, which repository tasks lack
        return mutants(solution.files[task.prompt_file], self.n_mutants)

    def followup_jobs(self, task: Task, candidates: Sequence[Candidate],
                      reports: Mapping[str, TestReport]) -> list[TestJob]:
        """The generated tests against each mutant of the accepted solution (mutation on only)."""
        if self.mutation is None:
            return []
        _, _, solution = self._first_pass(task, candidates, reports)
        source = self.module(task)
        return [TestJob(key=_mutant_key(task, k), files={**solution.files, task.prompt_file: m.source},
                        test_files={GENERATED_TEST_FILE: source}, timeout_s=self.timeout_s,
                        judge=function_judge(task))
                for k, m in enumerate(self._mutants(task, solution))]

    def adequacy(self, task: Task, solution: Candidate | None, passed: frozenset[str],
                 reports: Mapping[str, TestReport]) -> Adequacy | None:
        """Which of the tests `solution` passed kill which of its mutants; None without mutants."""
        made = self._mutants(task, solution)
        if not made:
            return None
        killers, killed, run = set(), 0, 0
        for k in range(len(made)):
            r = reports.get(_mutant_key(task, k))
            if r is None:  # not run (cannot happen through the stage): neither killed nor survived
                continue
            killing = passed - _passed(r)  # tests the solution passes and the mutant does not
            killers |= killing
            killed += bool(killing)
            run += 1
        if not run:
            return None
        return Adequacy(score=round(killed / run, 4), killers=frozenset(killers), n_mutants=run)

    def judge(self, task: Task, candidates: Sequence[Candidate],
              reports: Mapping[str, TestReport]) -> dict[str, GeneratedVerdict]:
        n_tests = len(self.tests[task.id].tests) if self.module(task) is not None else 0
        passed, ranked, solution = self._first_pass(task, candidates, reports)
        adequacy = self.adequacy(task, solution, passed[solution.attempt_id], reports) if solution else None
        if adequacy is not None and self.mutation == "filter":
            # Agreement on tests that kill no mutant is agreement on tests that check nothing.
            ranked = self._rank({cid: tests & adequacy.killers for cid, tests in passed.items()})
        out = {}
        for c in candidates:
            n = len(self.passed_tests(c, reports))
            rank = ranked.get(c.attempt_id)
            out[c.attempt_id] = GeneratedVerdict(
                accepted=bool(rank and rank.accepted), tests_passed=n, n_tests=n_tests,
                cluster_size=rank.cluster_size if rank else 0, cluster_score=rank.cluster_score if rank else 0.0,
                passes_all=c.eligible and n_tests > 0 and n == n_tests, per_test=self.outcomes(c, reports),
                mutation_score=adequacy.score if adequacy else None,
                adequate_tests=len(adequacy.killers) if adequacy else None)
        return out


MUTATION_MODES = (None, "report", "filter")
NO_TESTS = "task has no entry point: tests cannot be generated"
NO_TESTS_REPO = ("repository task without a localized function (metadata file/function naming an importable "
                 "def): tests cannot be generated")


@dataclass(frozen=True)
class Thresholds:
    """Agreement thresholds (`VerifyConfig.min_cluster_size`, `.min_tests_passed`)."""

    min_cluster_size: int = 1
    min_tests_passed: int = 1


@dataclass(frozen=True)
class Adequacy:
    """How well a task's generated tests tell its accepted solution from mutants of it."""

    score: float
    """Mutants killed / mutants made."""
    killers: frozenset[str]
    """Tests that kill at least one mutant."""
    n_mutants: int


def _passed(r: TestReport | None) -> frozenset[str]:
    """Names of the generated tests a job's report says passed (a timed-out job passed none)."""
    if r is None:
        return frozenset()
    return frozenset(name.split("::", 1)[-1] for name, outcome in r.per_test.items() if outcome == "passed")


def _mutant_key(task: Task, k: int) -> str:
    return f"mutant::{task.id}::{k}"


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
    if model is None and any(_writable(t) for t in missing):  # no model is loaded to write nothing
        if not ctx.model_spec:
            raise VerifyError(f"{run.file(CONFIG_FILE)} names no model; pass --model SPEC to write the generated tests")
        from codeagent.models import load_model
        model = load_model(ctx.model_spec)
    spec = model.spec if model is not None else ctx.model_spec or ""
    batch = max(1, cfg.concurrency // cfg.samples)  # tasks per call: batched, yet resumable
    if model is not None:
        widen_batch(model, batch * cfg.samples)  # decode one call's replies together
    with ProgressBar("writing tests", len(missing), enabled=cfg.progress) as bar, run.generated_tests_writer() as out:
        for i in range(0, len(missing), batch):
            part = missing[i:i + batch]
            able = [t for t in part if _writable(t)]
            made = {g.task_id: g for g in generate_tests(model, able, samples=cfg.samples, n_tests=cfg.n_tests,
                                                           temperature=cfg.temperature)} if able else {}
            for t in part:
                g = made.get(t.id) or GeneratedTests(t.id, spec, [], [], dropped=[
                    {"source": "", "reason": NO_TESTS_REPO if t.is_repository_task else NO_TESTS}])
                out.append(g.to_dict())
                store[t.id] = g
                bar.advance()
    return store


def _writable(task: Task) -> bool:
    """Can tests be generated for `task`? (An entry point, or a localized function, to call.)"""
    return bool(task.entry_point) or target_of(task) is not None
