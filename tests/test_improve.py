"""A real 2-iteration `codeagent improve` on a small slice: every stage runs for real (the shipped
model generates, sandboxes verify, TRL trains, the trained checkpoint is evaluated). It is killed
part-way and rerun, which must finish the loop without redoing or duplicating finished work."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.model]


def _wait_for(path, proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(1)
    return False


def test_two_iterations_killed_and_resumed(tmp_path):
    out = tmp_path / "loop"
    # heldout: the 135M model's own tests accept nothing here, and then no iteration would train;
    # greedy eval only: sampled eval is the loop_harness tests' job (this test is the slowest in CI).
    cmd = [sys.executable, "-m", "codeagent", "improve", "--preset", "ci", "--task-set", "pyfuncs",
           "--backend", "local", "--verifier", "heldout", "--eval-samples", "0", "--out", str(out)]
    log = open(tmp_path / "first.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        reached = _wait_for(out / "iter_0" / "verify.done.json", proc, 1500)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert reached, (tmp_path / "first.log").read_text()[-3000:]
    run_marker = (out / "iter_0" / "run.done.json").read_text()

    r = subprocess.run(cmd, capture_output=True, text=True, timeout=2400)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "improve: pyfuncs" in r.stdout  # the table of iterations
    assert (out / "iter_0" / "run.done.json").read_text() == run_marker  # not redone

    metrics = json.loads((out / "metrics.json").read_text())
    assert [m["iteration"] for m in metrics] == [0, 1, 2]
    assert metrics[0]["eval"]["n_tasks"] == 3
    assert metrics[0]["wall_s"]["eval"] > 0  # the base eval's own time, though the rerun only reread it
    for m in metrics[1:]:
        assert m["train"]["n_attempts"] == 3 * 2
        assert 0.0 <= (m["verifier"]["train_solve_rate"] or 0.0) <= 1.0
        assert "distinct_per_task" in m["diversity"]
        assert set(m["wall_s"]) >= {"run", "verify", "export", "train", "eval"}
    for i in (0, 1):
        ids = [json.loads(l)["attempt_id"] for l in (out / f"iter_{i}" / "run" / "trajectories.jsonl").read_text().splitlines()]
        assert len(ids) == 6 and Counter(ids).most_common(1)[0][1] == 1
    trained = [m for m in metrics[1:] if m["training"].get("model")]
    assert len(trained) == 2, [m["training"] for m in metrics[1:]]
    for m in trained:  # a trained checkpoint is a plain HF folder the next stages loaded
        assert (out / f"iter_{m['iteration'] - 1}" / "model" / "config.json").is_file()
    assert (out / "learning_curve.png").stat().st_size > 1000
    report = (out / "report.md").read_text()
    assert "| iter |" in report and "| vs base |" in report and "exact sign test p =" in report
    page = (out / "report.html").read_text()  # the same loop as a page (tests/report checks it in a browser)
    assert "Eval tasks × iterations" in page and "open in a browser: file://" in r.stdout
