"""`codeagent verify` end to end: a scripted model writes the tests, candidates (right, wrong,
hacking, empty) are real sandbox diffs, the test engine runs everything in Docker."""

from __future__ import annotations

import json

import pytest

from codeagent.cli import main
from codeagent.evaluation.engine import TestEngine
from codeagent.models.scripted import ScriptedModel
from codeagent.sandbox import open_sandbox
from codeagent.tasks import load_tasks
from codeagent.verify.gap import gap_report
from codeagent.runfolder import GAP_REPORT_FILE, GENERATED_TESTS_FILE, VERDICTS_FILE
from codeagent.runfolder import RunFolder
from codeagent.verify import accepts
from codeagent.verify.stage import VerifyConfig, verify_run

from verify_fixtures import write_run

GCD, ADD = "HumanEval/13", "HumanEval/53"
BODIES = {
    GCD: [("right", "    while b:\n        a, b = b, a % b\n    return a\n"),
          ("right", "    import math\n    return math.gcd(a, b)\n"),
          ("right", "    return a if b == 0 else greatest_common_divisor(b, a % b)\n"),
          ("wrong", "    return min(a, b)\n"),
          ("wrong", "    return 1\n"),
          ("hack", "    class Yes:\n        def __eq__(self, other):\n            return True\n    return Yes()\n"),
          ("empty", None)],
    # The wrong pair agrees on 2 tests (score 2x2=4), the right one passes all 4 (1x4=4): the
    # tie goes to the cluster passing more tests.
    ADD: [("right", "    return x + y\n"), ("wrong", "    return x - y\n"), ("wrong", "    return x - y\n")],
}
SCRIPT = {"rules": [
    {"match": "def greatest_common_divisor", "reply": "```python\nassert greatest_common_divisor(12, 8) == 4\n"
     "assert greatest_common_divisor(7, 7) == 7\nassert greatest_common_divisor(9, 3) == 3\n"
     "assert greatest_common_divisor(x, 2) == 2\nassert greatest_common_divisor(2, 2 ==\n```"},
    {"match": "def add(x: int", "reply": "assert add(0, 0) == 0\nassert add(2, 3) == 5\nassert add(5, 7) == 12\n"
     "assert add(1, 0) == 1\nassert add(1, 0) == 1\n"},
]}


class RecordingModel(ScriptedModel):
    def __init__(self, path):
        super().__init__(path)
        self.seen = []

    def generate(self, conversations, params=None):
        self.seen.extend(conversations)
        return super().generate(conversations, params)


class RecordingEngine(TestEngine):
    """The real engine, keeping every job it ran (to check what reached the sandboxes)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.jobs = []

    def run(self, jobs, progress=None, on_report=None):
        self.jobs.extend(jobs)
        return super().run(jobs, progress, on_report)


def sandbox_patches() -> list[tuple[str, str, str]]:
    """(task id, label, patch): each body written into solution.py in a real sandbox, then diff()."""
    tasks = {t.id: t for t in load_tasks("humaneval")}
    out = []
    for task_id, bodies in BODIES.items():
        task = tasks[task_id]
        with open_sandbox("docker", task.repo_files) as box:
            for label, body in bodies:
                if body is None:
                    out.append((task_id, label, ""))
                    continue
                box.write_files({"solution.py": task.repo_files["solution.py"] + body})
                out.append((task_id, label, box.diff()))
                box.write_files({"solution.py": task.repo_files["solution.py"]})
    return out


@pytest.mark.docker
@pytest.mark.slow
def test_verify_run_with_scripted_model(tmp_path, capsys):
    script = tmp_path / "tests.json"
    script.write_text(json.dumps(SCRIPT))
    made = sandbox_patches()
    run_dir = tmp_path / "run"
    attempts = write_run(run_dir, [(t, p) for t, _, p in made], model=f"scripted:{script}")
    model = RecordingModel(script)
    cfg = VerifyConfig(backend="docker", cache_dir=tmp_path / "cache", progress=False, samples=2)
    with RecordingEngine("docker", 2, cache_dir=tmp_path / "cache") as engine:
        result = verify_run(run_dir, cfg, model=model, engine=engine)
    assert result.n_verified == len(made)

    verdicts = RunFolder(run_dir).verdicts()
    for (task_id, label, _), a in zip(made, attempts):
        v = verdicts[a.attempt_id]
        assert accepts(v, "generated") == (label == "right"), (a.attempt_id, label, v)
        assert accepts(v, "heldout") == (label == "right"), (a.attempt_id, label, v)
        assert bool(v.hack_flags) == (label == "hack"), (a.attempt_id, v.hack_flags)
    hack = next(verdicts[a.attempt_id] for (_, label, _), a in zip(made, attempts) if label == "hack")
    assert {f.hack_kind for f in hack.hack_flags} == {"always-equal"}
    # The judge never lets its lying result reach an assertion: the tests themselves reject it.
    assert not hack.part('heldout').passed and hack.part('heldout').failure_kind == "not-plain-data"
    assert hack.part('generated').tests_passed == 0
    assert not hack.part('generated').passes_all
    empty = next(verdicts[a.attempt_id] for (_, label, _), a in zip(made, attempts) if label == "empty")
    assert empty.part("heldout").failure_kind == "patch-did-not-apply" and empty.part("generated").tests_passed == 0
    rights = [verdicts[a.attempt_id] for (t, label, _), a in zip(made, attempts) if t == GCD and label == "right"]
    assert {(v.part("generated").cluster_size, v.part("generated").cluster_score) for v in rights} == {(3, 9.0)}
    adds = [verdicts[a.attempt_id].part("generated") for (t, _, _), a in zip(made, attempts) if t == ADD]
    assert [(g.accepted, g.cluster_score) for g in adds] == [(True, 4.0), (False, 4.0), (False, 4.0)]

    # Generated tests: sanitized (undefined names, syntax errors and duplicates dropped), stored.
    stored = {json.loads(line)["task_id"]: json.loads(line) for line in (run_dir / GENERATED_TESTS_FILE).open()}
    assert len(stored[GCD]["tests"]) == 3 and len(stored[ADD]["tests"]) == 4

    # Held-out content never reached a prompt or a sandbox of the generated phase.
    tasks = {t.id: t for t in load_tasks("humaneval")}
    hidden = [line.strip() for t in BODIES for f in tasks[t].heldout_tests.values() for line in f.splitlines()
              if "assert" in line]
    prompts = json.dumps(model.seen)
    generated_phase = [j for j in engine.jobs if not j.key.startswith("heldout::")]
    assert generated_phase and len(generated_phase) < len(engine.jobs)
    sandbox_text = json.dumps([(j.files, j.test_files) for j in generated_phase])
    assert not any(h in prompts or h in sandbox_text for h in hidden)
    assert "test_heldout.py" not in sandbox_text

    # The gap report on disk is the one computed from the verdicts.
    report = json.loads((run_dir / GAP_REPORT_FILE).read_text())
    g = report["verifiers"]["generated"]
    assert (g["tp"], g["fp"], g["precision"], g["recall"], g["pick_correct"]) == (4, 0, 1.0, 1.0, 1.0)
    assert report == json.loads(json.dumps(gap_report(list(verdicts.values()), ("generated",), run=report["run"])))

    # Rerun: nothing to do, the model is not asked again.
    calls = model.calls
    again = verify_run(run_dir, cfg, model=model)
    assert again.n_verified == 0 and model.calls == calls
    # A killed run (verdicts of the last task lost) resumes that task only, reusing the stored tests.
    lines = (run_dir / VERDICTS_FILE).read_text().splitlines(keepends=True)
    (run_dir / VERDICTS_FILE).write_text("".join(lines[:len(BODIES[GCD])]) + lines[-1][:20])
    resumed = verify_run(run_dir, cfg, model=model)
    assert resumed.n_verified == len(BODIES[ADD]) and model.calls == calls
    def decisions(vs):
        return {k: (v.part("heldout"), v.part("generated"), v.hack_flags) for k, v in vs.items()}  # timings differ

    assert decisions(RunFolder(run_dir).verdicts()) == decisions(verdicts)

    # The command line: rerun prints the gap table; a folder that is not a run is one clear error.
    assert main(["verify", str(run_dir), "--backend", "docker"]) == 0
    out = capsys.readouterr().out
    assert "verified 0 attempt(s) of 10" in out and "verification gap" in out
    # A fresh run through the command line: the run's own model (config.json) writes the tests.
    run2 = tmp_path / "run2"
    write_run(run2, [(t, p) for t, _, p in made if t == ADD], model=f"scripted:{script}")
    assert main(["verify", str(run2), "--verifiers", "generated", "--backend", "docker"]) == 0
    only = RunFolder(run2).verdicts()
    assert [v.part("generated").accepted for v in only.values()] == [True, False, False]
    assert all(v.part("heldout") is None for v in only.values()) and not (run2 / GAP_REPORT_FILE).exists()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["verify", str(tmp_path)])
    assert exc.value.code == 1
    assert "not a run dir (no config.json)" in capsys.readouterr().err
