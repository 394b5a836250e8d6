"""Validation as SWE-smith does it, in real Docker sandboxes with real pytest."""

from __future__ import annotations

import json

import pytest

from codeagent.repos.mutate import Candidate, candidates
from codeagent.repos.synthesize import Journal, Outcome, Validator, order_candidates

from repo_fixtures import CODE, tiny_pristine

CORE = "tinylib/core.py"


def _clamp_text() -> str:
    text = CODE[CORE]
    return text[text.index("def clamp"):text.index("def window_sums")]


def _candidate(after: str, strategy: str = "hand") -> Candidate:
    return Candidate("tinylib", CORE, "clamp", strategy, 0, 4, _clamp_text(), after)


@pytest.mark.docker
@pytest.mark.slow
def test_validation_keeps_a_real_bug_and_rejects_noop_and_everything_breaking_mutations():
    before = _clamp_text()
    real_bug = _candidate(before.replace("        return hi\n", "        return lo\n"))
    noop = _candidate(before.replace("    return x\n", "    return (x)\n"))
    # Breaks the module at import: every test that sees clamp errors, none still passes.
    breaks_all = _candidate(before + "\nraise RuntimeError('broken')\n\n")
    with Validator(tiny_pristine(), backend="docker", workers=1) as v:
        base = v.baseline()
        assert len(base.passing) == 6
        kept = v.validate(real_bug, base)
        assert kept.kept and kept.fail_to_pass == ["tests/test_core.py::test_clamp_above"]
        assert "tests/test_core.py::test_clamp_inside" in kept.pass_to_pass
        assert kept.messages and "assert" in kept.messages[0]
        assert (v.validate(noop, base).reason, v.validate(breaks_all, base).reason) == \
            ("no-fail-to-pass", "no-pass-to-pass")
        # The sandbox is back to the pristine repo after each candidate.
        again = v.validate(real_bug, base)
        assert again.fail_to_pass == kept.fail_to_pass


def test_candidates_are_deterministic_and_deduplicated():
    strategies = ["flip_comparison", "off_by_one", "drop_statement", "swap_if_else", "change_return"]
    a = candidates("tinylib", CODE, strategies, seed=3)
    b = candidates("tinylib", CODE, strategies, seed=3)
    assert [c.id for c in a] == [c.id for c in b] and a
    doubled = order_candidates(a + a, seed=0, limit=None)
    assert len(doubled) == len({c.id for c in a})
    assert [c.id for c in order_candidates(a, 0, 3)] == [c.id for c in doubled[:3]]


def test_journal_resumes_and_ignores_a_torn_tail(tmp_path):
    j = Journal(tmp_path / "j.jsonl")
    j.add(Outcome("a", True, "kept", ["t1"], ["t2"]))
    j.add(Outcome("b", False, "timeout"))
    with open(tmp_path / "j.jsonl", "a") as f:
        f.write(json.dumps({"id": "c", "kept": True})[:10])  # killed mid-write
    again = Journal(tmp_path / "j.jsonl")
    assert set(again.done) == {"a", "b"} and again.done["a"].fail_to_pass == ["t1"]
