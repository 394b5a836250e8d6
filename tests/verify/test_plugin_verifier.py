"""Adding a verifier is one class and one registry line: a tiny verifier defined here runs in the
verify stage beside the held-out one, is measured in the gap report and chooses export data."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from codeagent.evaluation.base import TestJob
from codeagent.export.stage import export_runs
from codeagent.runfolder import RunFolder
from codeagent.verify import VERIFIERS, accepts
from codeagent.verify.stage import VerifyConfig, verify_run

V1 = Path(__file__).parents[1] / "fixtures" / "run_folder_v1"


@dataclass
class ReturnsSomething:
    returns: bool


class NotNoneVerifier:
    """Accepts a candidate whose function returns something other than None on its first example."""

    name = "not_none"
    Part = ReturnsSomething

    @classmethod
    def create(cls, ctx):
        return cls()

    def key(self, c):
        return f"not_none::{c.attempt_id}"

    def jobs(self, task, candidates):
        test = (f"from solution import {task.entry_point}\n\n"
                f"def test_returns():\n    import inspect\n    f = {task.entry_point}\n"
                f"    n = len(inspect.signature(f).parameters)\n"
                f"    for args in ([[1, 2]] * n, [1] * n, ['ab'] * n):\n"
                f"        try:\n            assert f(*args) is not None\n            return\n"
                f"        except (TypeError, AttributeError, ValueError):\n            continue\n"
                f"    assert False, 'no argument shape worked'\n")
        return [TestJob(key=self.key(c), files=dict(c.files), test_files={"test_not_none.py": test}, timeout_s=3)
                for c in candidates if c.files is not None]

    def judge(self, task, candidates, reports):
        return {c.attempt_id: ReturnsSomething(bool(reports.get(self.key(c)) and reports[self.key(c)].passed))
                for c in candidates}

    @staticmethod
    def accepts(part):
        return part.returns


def test_a_verifier_defined_in_a_test_plugs_into_verify_gap_and_export(tmp_path, monkeypatch):
    monkeypatch.setitem(VERIFIERS, "not_none", NotNoneVerifier)  # the one registry line
    run_dir = tmp_path / "run"
    shutil.copytree(V1, run_dir)
    for name in ("verdicts.jsonl", "gap_report.json"):
        (run_dir / name).unlink()
    result = verify_run(run_dir, VerifyConfig(verifiers=("not_none", "heldout"), backend="local", workers=1,
                                              cache_dir=tmp_path / "cache", progress=False))
    verdicts = RunFolder(run_dir).verdicts()
    assert len(verdicts) == 12 and all(isinstance(v.part("not_none"), ReturnsSomething) for v in verdicts.values())
    # the scripted "wrong" solutions return None; the references return something
    wrong = [v for v in verdicts.values() if not v.hack_flags and not accepts(v, "heldout")]
    right = [v for v in verdicts.values() if accepts(v, "heldout")]
    assert wrong and right and not any(accepts(v, "not_none") for v in wrong)
    assert all(accepts(v, "not_none") for v in right)
    measured = result.gap_report["verifiers"]["not_none"]
    assert (measured["tp"], measured["fp"]) == (len(right), 0)
    summary = export_runs([run_dir], "not_none", "openai", tmp_path / "data", eval_sets=[], progress=False)
    assert summary.counts["accepted"] == len(right)
