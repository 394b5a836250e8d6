"""`--executor ray` on a real local Ray cluster (see conftest.py): the same attempts, verdicts and
eval results as the local executor; a node killed mid-run loses nothing; Ctrl-C leaves nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import ray

from codeagent.cli import main as cli_main
from codeagent.errors import UserError
from codeagent.evaluation.stage import EvalConfig, evaluate
from codeagent.executors.ray import RayExecutor
from codeagent.run import RunConfig, run_agent
from codeagent.verify.stage import VerifyConfig, verify_run
from equivalence_scenario import _gap, _solution, _tasks, _verdicts, script_rules

pytestmark = pytest.mark.slow

# Helpers defined here travel to the workers by value (the workers cannot import this file).
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _script(tmp_path: Path, delay_s: float = 0.0) -> tuple[Path, list]:
    train, test = _tasks()
    rules = script_rules(train, test)
    if delay_s:
        rules["delay_s"] = delay_s
    path = tmp_path / "script.json"
    path.write_text(json.dumps(rules))
    return path, train


def _run(out: Path, script: Path, train, executor: str, address: str | None, **over) -> None:
    options = {"address": address} if address else {}
    config = dict(task_set="pyfuncs", split="train", model=f"scripted:{script}", samples=2,
                  only_task_ids=tuple(t.id for t in train), concurrency=2, backend="docker", progress=False,
                  executor=executor, executor_options=options)
    run_agent(RunConfig(**{**config, **over}), out)


def _attempts(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "trajectories.jsonl").read_text().splitlines() if line.strip()]


def _canonical(rows: list[dict]) -> dict:
    """What an attempt decided, without what differs between two runs (ids, timings)."""
    drop = {"run_id", "timings"}
    return {(r["task_id"], r["sample_index"]): {k: v for k, v in r.items() if k not in drop} for r in rows}


# -- the executor itself ---------------------------------------------------------------------
class Tagged:
    """A stateful fn: opened once per worker, it tags results with its worker and node."""

    def __init__(self):
        self.opened = 0

    def open(self):
        self.opened += 1

    def __call__(self, x):
        if x % 5 == 0:
            raise ValueError(f"bad {x}")
        time.sleep(0.3)  # long enough for the second worker to start before the first is done
        return x * 10, os.getpid(), self.opened, ray.get_runtime_context().get_node_id()

    def close(self):
        pass


def test_every_item_once_failures_as_data_one_worker_per_node(ray_cluster):
    with RayExecutor(workers=4, address=ray_cluster.address) as ex:
        outcomes = list(ex.map_unordered(Tagged(), range(30)))
    assert sorted(o.item for o in outcomes) == list(range(30))
    ok = [o for o in outcomes if o.ok]
    for o in outcomes:
        if o.item % 5 == 0:
            assert isinstance(o.error, ValueError) and f"bad {o.item}" in str(o.error)
    assert all(o.result[0] == o.item * 10 for o in ok)
    assert {o.result[2] for o in ok} == {1}  # opened once in each worker, before its first item
    assert len({o.result[1] for o in ok}) == 2 and len({o.result[3] for o in ok}) == 2  # spread over both nodes
    assert _cpus_free_soon(2)  # closing released every worker


def test_without_ray_one_line_says_what_to_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "codeagent.executors.ray")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    from codeagent.executor import make_executor
    with pytest.raises(UserError, match=r"pip install 'codeagent\[ray\]'"):
        make_executor("ray", workers=2)


# -- the stages through the cluster ------------------------------------------------------------
@pytest.mark.docker
def test_run_and_verify_through_the_cluster_match_the_local_executor(ray_cluster, tmp_path):
    script, train = _script(tmp_path)
    for executor in ("ray", "local"):
        out = tmp_path / executor
        _run(out, script, train, executor, ray_cluster.address if executor == "ray" else None)
        verify_run(out, VerifyConfig(backend="docker", workers=2, progress=False, cache_dir=tmp_path / f"cache-{executor}",
                                     executor=executor,
                                     executor_options={"address": ray_cluster.address} if executor == "ray" else {}))
    ray_rows, local_rows = _attempts(tmp_path / "ray"), _attempts(tmp_path / "local")
    assert len(ray_rows) == len(train) * 2
    assert _canonical(ray_rows) == _canonical(local_rows)
    assert {r["sandbox_backend"] for r in ray_rows} == {"docker"}
    verdicts = _verdicts(tmp_path / "ray")
    assert verdicts == _verdicts(tmp_path / "local") and len(verdicts) == len(ray_rows)
    assert any(v["parts"]["heldout"]["passed"] for v in verdicts.values())  # not trivially all-fail
    assert not all(v["parts"]["heldout"]["passed"] for v in verdicts.values())
    assert _gap(tmp_path / "ray") == _gap(tmp_path / "local")


@pytest.mark.docker
def test_eval_through_the_cluster_matches_the_local_executor(ray_cluster, tmp_path):
    train, test = _tasks()
    samples = tmp_path / "samples.jsonl"
    rows = [{"task_id": t.id, "solution": _solution(t, kind)} for t in train + test for kind in ("ref", "wrong", "hack")]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    results = {}
    for executor in ("ray", "local"):
        out = tmp_path / f"eval-{executor}"
        cli = ["eval", "--task-set", "pyfuncs", "--samples", str(samples), "--out", str(out), "--backend", "docker"]
        if executor == "ray":  # through the command line, as a user would
            assert cli_main([*cli, "--executor", "ray", "--ray-address", ray_cluster.address]) == 0
        else:
            evaluate(EvalConfig(task_set="pyfuncs", samples=samples, out=out, backend="docker", progress=False,
                                cache_dir=tmp_path / "cache-local"))
        lines = [json.loads(l) for l in (out / "results.jsonl").read_text().splitlines()]
        results[executor] = {(r["task_id"], r["sample_index"]): {k: v for k, v in r.items() if k != "duration"}
                             for r in lines}
    assert len(results["ray"]) == len(rows)
    assert results["ray"] == results["local"]
    by_kind = Counter((index, r["passed"]) for (_, index), r in results["ray"].items())
    assert by_kind[(0, True)] == by_kind[(1, False)] == len(train + test)  # references pass, wrong ones fail
    n_passed = sum(r["passed"] for r in results["ray"].values())
    # The content-keyed cache is the driver's: a ray eval into a new folder with a warm cache runs nothing.
    cache = tmp_path / "cache-local"
    summary = evaluate(EvalConfig(task_set="pyfuncs", samples=samples, out=tmp_path / "again", backend="docker",
                                  progress=False, cache_dir=cache, executor="ray",
                                  executor_options={"address": ray_cluster.address}))
    assert summary.n_samples == len(rows) and summary.n_passed == n_passed


# -- failures ----------------------------------------------------------------------------------
def _running_an_item(node_pid: int) -> bool:
    """Whether a worker process under the node started as `node_pid` is inside `_Worker.call` (Ray
    titles a worker process after the method it runs), i.e. killing the node now loses an item."""
    parents, titles = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            titles[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    for pid, title in titles.items():
        if title.startswith("ray::_Worker.call"):
            p = pid
            while p in parents and p > 1:
                if p == node_pid:
                    return True
                p = parents[p]
    return False



def test_a_node_killed_mid_run_loses_no_attempt(ray_cluster, tmp_path, capfd):
    node = ray_cluster.add_node()
    ray_cluster.wait_for(3)
    script, train = _script(tmp_path, delay_s=0.5)
    out = tmp_path / "ray"
    errors = []

    def run():
        try:
            _run(out, script, train, "ray", ray_cluster.address, samples=3, concurrency=3, backend="local")
        except BaseException as e:  # noqa: BLE001 — reported by the test below
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not _running_an_item(node.proc.pid):
        time.sleep(0.05)
    assert _running_an_item(node.proc.pid), "the added node never ran an attempt"
    node.kill()  # its worker dies mid-attempt, as when a machine goes
    thread.join(timeout=300)
    assert not thread.is_alive() and not errors, errors
    ray_cluster.wait_until_dead(2)

    rows = _attempts(out)
    counts = Counter((r["task_id"], r["sample_index"]) for r in rows)
    assert set(counts.values()) == {1} and len(counts) == len(train) * 3  # every attempt, exactly once
    assert "its item is tried again elsewhere" in capfd.readouterr().err
    _run(tmp_path / "local", script, train, "local", None, samples=3, concurrency=3, backend="local")
    assert _canonical(rows) == _canonical(_attempts(tmp_path / "local"))


@pytest.mark.docker
def test_ctrl_c_leaves_no_workers_or_containers(ray_cluster, tmp_path):
    import docker
    script, train = _script(tmp_path, delay_s=1.0)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "codeagent", "run", "--task-set", "pyfuncs", "--split", "train", "--samples", "4",
           "--model", f"scripted:{script}", "--concurrency", "2", "--backend", "docker", "--no-progress",
           "--out", str(out), "--executor", "ray", "--ray-address", ray_cluster.address]
    proc = subprocess.Popen(cmd, env=ray_cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = docker.from_env()
    ours: set[str] = set()
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        for c in client.containers.list(filters={"label": "codeagent.sandbox=1"}):
            if _is_ray_worker(int(c.labels.get("codeagent.owner_pid", 0))):
                ours.add(c.id)
        if ours and (out / "trajectories.jsonl").exists() and _attempts(out):
            break
        time.sleep(0.3)
    assert ours and proc.poll() is None, proc.stdout.read().decode()[-2000:] if proc.poll() is not None else "no container"
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    assert len(_attempts(out)) < len(train) * 4  # it was stopped mid-run
    assert _cpus_free_soon(2)  # no worker left holding a CPU
    left = {c.id for c in client.containers.list(all=True, filters={"label": "codeagent.sandbox=1"})} & ours
    assert not left


def _cpus_free_soon(n: int, timeout: float = 60.0) -> bool:
    """Killing an actor is asynchronous: its CPU comes back a moment later."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ray.available_resources().get("CPU", 0) >= n:
            return True
        time.sleep(0.5)
    return False


def _is_ray_worker(pid: int) -> bool:
    try:
        return b"ray::" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
