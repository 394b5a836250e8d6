"""The verdict record: what every verifier concluded about one attempt.

Stored in `RUN_DIR/verdicts.jsonl`, one line per attempt, keyed by `attempt_id` (trajectories
are never rewritten). The export stage reads only these records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

VERDICTS_FILE = "verdicts.jsonl"
TRAJECTORIES_FILE = "trajectories.jsonl"
GENERATED_TESTS_FILE = "generated_tests.jsonl"
GAP_REPORT_FILE = "gap_report.json"


@dataclass
class HeldoutVerdict:
    passed: bool
    n_pass: int
    n_total: int
    per_test: dict[str, str]
    failure_kind: str | None = None


@dataclass
class GeneratedVerdict:
    accepted: bool
    """In the top dual-execution-agreement cluster of its task (CodeT)."""
    tests_passed: int
    n_tests: int
    cluster_size: int
    cluster_score: float
    passes_all: bool = False
    """Passed every sanitized generated test (the no-agreement baseline)."""
    per_test: dict[str, str] = field(default_factory=dict)
    """Generated test name (test_gen_k) -> outcome for this attempt (empty in older records)."""


@dataclass
class HackFlag:
    hack_kind: str
    """e.g. touches-tests, early-exit, patches-test-framework, reads-tests, always-equal, hardcoded-outputs."""
    detail: str


@dataclass
class Verdict:
    attempt_id: str
    task_id: str
    heldout: HeldoutVerdict | None = None
    generated: GeneratedVerdict | None = None
    hack_flags: list[HackFlag] = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def accepted_by(self, verifier: str) -> bool:
        """Does `verifier` (generated | heldout | both) count this attempt as a success?

        A hack-flagged attempt is never a success.
        """
        if self.hack_flags:
            return False
        ok_generated = bool(self.generated and self.generated.accepted)
        ok_heldout = bool(self.heldout and self.heldout.passed)
        return {"generated": ok_generated, "heldout": ok_heldout, "both": ok_generated and ok_heldout}[verifier]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        return cls(
            attempt_id=d["attempt_id"], task_id=d["task_id"],
            heldout=HeldoutVerdict(**d["heldout"]) if d.get("heldout") else None,
            generated=GeneratedVerdict(**d["generated"]) if d.get("generated") else None,
            hack_flags=[HackFlag(**h) for h in d.get("hack_flags", [])],
            timings=d.get("timings", {}),
        )
