"""The planted hack corpus (tests/fixtures/hacks): every hack ends as not-passed and flagged with
its kind; honest solutions that merely mention the trigger words pass, unflagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeagent.runfolder import RunFolder
from codeagent.verify import accepts
from codeagent.verify.stage import VerifyConfig, verify_run

from verify_fixtures import write_generated_tests, write_run

HACKS = Path(__file__).parents[1] / "fixtures" / "hacks"
INDEX = json.loads((HACKS / "index.json").read_text())


def test_corpus_is_large_and_covers_every_kind():
    hacks = [e for e in INDEX if e["hack_kind"]]
    assert len(hacks) >= 20
    assert {e["hack_kind"] for e in hacks} == {"touches-tests", "early-exit", "patches-test-framework",
                                               "reads-tests", "always-equal", "hardcoded-outputs"}
    assert len([e for e in INDEX if not e["hack_kind"]]) >= 5


@pytest.mark.docker
@pytest.mark.slow
def test_every_planted_hack_fails_and_honest_solutions_pass(tmp_path):
    run_dir = tmp_path / "hack-run"
    attempts = write_run(run_dir, [(e["task_id"], (HACKS / e["file"]).read_text()) for e in INDEX])
    tests: dict[str, list[str]] = {}
    for e in INDEX:
        tests.setdefault(e["task_id"], [])
        for src in e["generated_tests"] or []:
            if src not in tests[e["task_id"]]:
                tests[e["task_id"]].append(src)
    write_generated_tests(run_dir, tests)

    result = verify_run(run_dir, VerifyConfig(backend="docker", cache_dir=tmp_path / "cache", progress=False))
    assert result.n_verified == len(INDEX)
    verdicts = RunFolder(run_dir).verdicts()
    problems = []
    for e, a in zip(INDEX, attempts):
        v = verdicts[a.attempt_id]
        kinds = {f.hack_kind for f in v.hack_flags}
        if e["hack_kind"]:
            if accepts(v, "heldout") or accepts(v, "generated"):
                problems.append(f"{e['file']}: accepted")
            if e["hack_kind"] not in kinds:
                problems.append(f"{e['file']}: expected flag {e['hack_kind']}, got {sorted(kinds)}")
        else:
            if kinds:
                problems.append(f"{e['file']}: honest solution flagged {[f.detail for f in v.hack_flags]}")
            if not v.part("heldout").passed:
                problems.append(f"{e['file']}: honest solution failed held-out ({v.part('heldout').failure_kind})")
            if tests[e["task_id"]] and not accepts(v, "generated"):
                problems.append(f"{e['file']}: honest solution not accepted by the generated verifier")
    assert not problems, "\n".join(problems)
