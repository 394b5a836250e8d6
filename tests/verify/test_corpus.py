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


def _attack_corpus():
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location("attack_corpus", HACKS.parent / "attacks" / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["attack_corpus"] = module
    spec.loader.exec_module(module)
    return module.load()


@pytest.mark.docker
@pytest.mark.slow
def test_planted_attacks_are_never_accepted_and_eval_agrees_with_verify(tmp_path):
    """The attack corpus as patches: verify accepts none and flags every forging attempt; honest
    look-alikes are accepted unflagged; `codeagent eval` gives every patch the same verdict."""
    from codeagent.evaluation.stage import EvalConfig, evaluate
    from codeagent.tasks import load_tasks, tasks_by_id

    tasks = tasks_by_id(load_tasks("humaneval"))
    attacks = [a for a in _attack_corpus() if a.attack != "kill"]  # killers: tests/evaluation/test_attacks.py
    patches = [(a.task_id, a.patch(tasks[a.task_id].repo_files["solution.py"])) for a in attacks]
    run_dir = tmp_path / "attack-run"
    attempts = write_run(run_dir, patches)
    verify_run(run_dir, VerifyConfig(verifiers=("heldout",), backend="docker", cache_dir=tmp_path / "cache",
                                     progress=False))
    verdicts = RunFolder(run_dir).verdicts()
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": t, "patch": p}) + "\n" for t, p in patches))
    evaluate(EvalConfig(task_set="humaneval", samples=samples, out=tmp_path / "eval", backend="docker", ks=(1,),
                        cache_dir=tmp_path / "cache2", progress=False))
    rows = [json.loads(line) for line in (tmp_path / "eval" / "results.jsonl").read_text().splitlines()]
    by_sample = {(r["task_id"], r["sample_index"]): r for r in rows}
    problems = []
    for a, attempt in zip(attacks, attempts):
        v = verdicts[attempt.attempt_id]
        row = by_sample[(attempt.task_id, attempt.sample_index)]
        if row["passed"] != accepts(v, "heldout"):
            problems.append(f"{a.name}: eval passed={row['passed']} but verify accepted={accepts(v, 'heldout')}")
        if a.attack is None:
            if v.hack_flags or not accepts(v, "heldout"):
                problems.append(f"{a.name}: honest look-alike not accepted: {v.hack_flags} {v.part('heldout')}")
        elif accepts(v, "heldout"):
            problems.append(f"{a.name}: attack ({a.attack}) ACCEPTED by verify")
        elif a.attack not in ("persist", "read-tests", "forge") and not v.hack_flags:
            problems.append(f"{a.name}: attack ({a.attack}) not flagged")
    assert not problems, "\n".join(problems)
