"""The verdict record: what every verifier concluded about one attempt.

Stored in the run folder's verdicts (`codeagent.runfolder`), one record per attempt keyed by
`attempt_id` (trajectories are never rewritten). `parts` holds one part per verifier, keyed by
the verifier's registry name; each verifier class says which dataclass its part is (`Part`), so
a record reads back typed without this module knowing any verifier.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from codeagent.trajectory import check_record

FORMAT_VERSION = 2
"""1: one field per verifier (`heldout`, `generated`); 2: `parts` keyed by verifier name."""


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
    mutation_score: float | None = None
    """Of the task: the fraction of mutants of its accepted solution that its generated tests kill
    (`mutation.py`); None when adequacy is not checked or there is nothing to mutate."""
    adequate_tests: int | None = None
    """Of the task: how many generated tests kill at least one mutant."""


@dataclass
class HackFlag:
    hack_kind: str
    """e.g. touches-tests, early-exit, patches-test-framework, reads-tests, always-equal, hardcoded-outputs."""
    detail: str


@dataclass
class Verdict:
    attempt_id: str
    task_id: str
    parts: dict[str, object] = field(default_factory=dict)
    """verifier name -> that verifier's part (its `Part` dataclass)."""
    hack_flags: list[HackFlag] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def part(self, verifier: str):
        """`verifier`'s part of this verdict, or None when it has not judged the attempt."""
        return self.parts.get(verifier)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parts"] = {name: asdict(p) for name, p in self.parts.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Verdict":
        from . import verifier_class
        d = _upgrade(dict(d))
        check_record(cls, d, FORMAT_VERSION)
        if not isinstance(d["parts"], dict):
            raise TypeError("field 'parts' must be an object of verifier name -> part")
        parts = {name: verifier_class(name).Part(**p) for name, p in d["parts"].items() if p is not None}
        return cls(attempt_id=d["attempt_id"], task_id=d["task_id"], parts=parts,
                   hack_flags=[HackFlag(**h) for h in d.get("hack_flags", [])], timings=d.get("timings", {}))


def _upgrade(d: dict) -> dict:
    """A format-1 record (one field per verifier) in the format-2 shape."""
    if d.get("format_version", 1) == 1 and "parts" not in d:
        d["parts"] = {name: d.pop(name) for name in ("heldout", "generated") if name in d}
        d["format_version"] = FORMAT_VERSION
    return d
