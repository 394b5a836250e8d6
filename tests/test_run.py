"""`codeagent run` / run_agent with the scripted model in real local sandboxes: every
(task, sample) pair once, resumable after SIGKILL, config checks, failing servers, no leaks."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeagent.models import ModelError
from codeagent.run import RunConfig, RunError, run_agent
from codeagent.tasks import TaskSetError, load_tasks
from codeagent.jsonl import read_jsonl

pytestmark = pytest.mark.slow

BACKEND = "local"
TASKS = load_tasks("humaneval")[:3]
EXPECTED = {f"{t.id}#{k}" for t in TASKS for k in range(2)}


def write_script(path: Path, delay_s: float = 0.0, failing: tuple[str, ...] = ()) -> Path:
    """A rules script answering each HumanEval task with its reference file (or an error)."""
    rules = []
    for t in load_tasks("humaneval")[:6]:
        reply = {"error": "connection refused (server down)"} if t.id in failing else \
            "```python\n" + t.reference_files["solution.py"] + "```\n"
        rules.append({"match": f"def {t.entry_point}(", "reply": reply})
    path.write_text(json.dumps({"rules": rules, "delay_s": delay_s}))
    return path


def config(script: Path, **kw) -> RunConfig:
    base = dict(task_set="humaneval", model=f"scripted:{script}", samples=2, max_tasks=3, backend=BACKEND,
                progress=False, concurrency=2)
    return RunConfig(**{**base, **kw})


def lines(out: Path) -> list[dict]:
    return list(read_jsonl(out / "trajectories.jsonl"))


def test_every_pair_once_and_a_rerun_adds_nothing(tmp_path):
    script, out = write_script(tmp_path / "s.json"), tmp_path / "run"
    summary = run_agent(config(script), out)
    rows = lines(out)
    assert len(rows) == 6 and {r["attempt_id"] for r in rows} == EXPECTED
    assert summary.n_done == summary.n_expected == summary.n_new == 6
    assert summary.exit_statuses == {"submitted": 6}
    for r in rows:
        assert r["patch"].startswith("diff --git a/solution.py b/solution.py")
        assert r["sandbox_backend"] == BACKEND and r["run_id"] == summary.run_id
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task_ids"] == [t.id for t in TASKS] and cfg["samples"] == 2 and cfg["agent"] == "rewrite"
    assert cfg["model"] == f"scripted:{script}" and cfg["agent_config"]["stop"] == ["\n```\n"]
    assert cfg["code_version"]["codeagent"] and cfg["created"]
    before = (out / "trajectories.jsonl").read_bytes()
    again = run_agent(config(script, concurrency=1), out)  # concurrency is a safe field
    assert again.n_new == 0 and again.n_done == 6
    assert (out / "trajectories.jsonl").read_bytes() == before
    assert len(json.loads((out / "config.json").read_text())["resumed"]) == 1


def test_sigkill_then_rerun_finishes_exactly_the_missing_pairs(tmp_path):
    script = write_script(tmp_path / "s.json", delay_s=0.5)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "codeagent", "run", "--task-set", "humaneval", "--model", f"scripted:{script}",
           "--samples", "2", "--max-tasks", "3", "--backend", BACKEND, "--concurrency", "1", "--no-progress",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(lines(out)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = lines(out)
    assert 2 <= len(first) < 6, proc.stderr.read().decode()[-2000:]

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    rows = lines(out)
    ids = [r["attempt_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 6 and set(ids) == EXPECTED
    assert rows[:len(first)] == first  # what was written before the kill is kept as it was

    # Same as a run that was never interrupted.
    straight = tmp_path / "straight"
    run_agent(config(write_script(tmp_path / "fast.json")), straight)
    by_id = {r["attempt_id"]: r for r in lines(straight)}
    for r in rows:
        assert r["messages"] == by_id[r["attempt_id"]]["messages"]
        assert r["patch"] == by_id[r["attempt_id"]]["patch"]


def test_a_rerun_with_a_different_config_is_refused(tmp_path):
    script, out = write_script(tmp_path / "s.json"), tmp_path / "run"
    run_agent(config(script, max_tasks=1, samples=1), out)
    with pytest.raises(RunError, match=r"temperature: was 0\.8, now 0\.2.*same settings.*new --out"):
        run_agent(config(script, max_tasks=1, samples=1, temperature=0.2), out)
    with pytest.raises(RunError, match="samples: was 1, now 2"):
        run_agent(config(script, max_tasks=1, samples=2), out)


def test_a_run_recorded_before_an_agent_gained_an_option_resumes_at_its_default(tmp_path):
    script, out = write_script(tmp_path / "s.json"), tmp_path / "run"
    run_agent(config(script, max_tasks=1, samples=1), out)
    cfg_path = out / "config.json"
    recorded = json.loads(cfg_path.read_text())
    del recorded["agent_config"]["max_file_chars"]  # as written by an agent without that option
    del recorded["model_options"]  # and by a codeagent without that RunConfig field
    cfg_path.write_text(json.dumps(recorded))
    assert run_agent(config(script, max_tasks=1, samples=1), out).n_done == 1  # resumed, not refused
    with pytest.raises(RunError, match="agent_config.max_file_chars: was 3000, now 10"):
        run_agent(config(script, max_tasks=1, samples=1, agent_options={"max_file_chars": "10"}), out)


def test_a_server_that_keeps_failing_stops_the_run_and_keeps_what_was_written(tmp_path):
    failing = tuple(t.id for t in load_tasks("humaneval")[1:6])
    script, out = write_script(tmp_path / "s.json", failing=failing), tmp_path / "run"
    cfg = config(script, samples=1, max_tasks=6, concurrency=1, max_infra_errors=3)
    with pytest.raises(RunError, match=r"3 attempts in a row failed.*connection refused.*The 1 attempts.*rerun"):
        run_agent(cfg, out)
    assert [r["attempt_id"] for r in lines(out)] == ["HumanEval/0#0"]
    # The server is back: the same command finishes the rest (the failed ones were not recorded).
    write_script(script)
    summary = run_agent(cfg, out)
    assert summary.n_new == 5 and summary.exit_statuses == {"submitted": 6}


def test_an_isolated_model_error_is_recorded_as_the_attempts_outcome(tmp_path):
    script = write_script(tmp_path / "s.json", failing=("HumanEval/1",))
    summary = run_agent(config(script, samples=1, concurrency=1), tmp_path / "run")
    assert summary.exit_statuses == {"submitted": 2, "model-error": 1}
    [bad] = [r for r in lines(tmp_path / "run") if r["exit_status"] == "model-error"]
    assert "connection refused" in bad["error"] and bad["messages"][1]["role"] == "user"


def test_clear_errors_for_bad_split_and_unloadable_model(tmp_path):
    script = write_script(tmp_path / "s.json")
    with pytest.raises(TaskSetError, match="no 'train' split"):
        run_agent(config(script, split="train"), tmp_path / "a")
    with pytest.raises(ModelError, match="scripted model file not found"):
        run_agent(config(tmp_path / "missing.json"), tmp_path / "b")
    out = subprocess.run([sys.executable, "-m", "codeagent", "run", "--task-set", "humaneval", "--split", "train",
                          "--model", f"scripted:{script}", "--out", str(tmp_path / "c")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "Traceback" not in out.stderr and "no 'train' split" in out.stderr


def test_model_options_reach_the_backend_and_are_recorded(tmp_path):
    """`--model-opt KEY=VALUE` (JSON values) goes to the model's backend and into config.json; an
    option the backend lacks is a clear error before any attempt."""
    script = write_script(tmp_path / "s.json")
    cmd = [sys.executable, "-m", "codeagent", "run", "--task-set", "humaneval", "--max-tasks", "1", "--samples", "1",
           "--model", f"scripted:{script}", "--backend", BACKEND, "--no-progress"]
    ok = subprocess.run(cmd + ["--model-opt", "delay_s=0.01", "--out", str(tmp_path / "a")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "a" / "config.json").read_text())["model_options"] == {"delay_s": 0.01}
    bad = subprocess.run(cmd + ["--model-opt", "max_model_len=8192", "--out", str(tmp_path / "b")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr
    assert "no option max_model_len for this kind of model; its options: delay_s" in bad.stderr
    assert not (tmp_path / "b" / "trajectories.jsonl").exists() or not lines(tmp_path / "b")


def test_only_task_ids_picks_those_tasks_and_rejects_unknown_ones(tmp_path):
    script = write_script(tmp_path / "s.json")
    picked = (TASKS[2].id, TASKS[0].id)
    run_agent(config(script, only_task_ids=picked, samples=1), tmp_path / "a")
    assert {r["task_id"] for r in lines(tmp_path / "a")} == set(picked)
    with pytest.raises(RunError, match="not in task set 'humaneval'.*HumanEval/nope"):
        run_agent(config(script, only_task_ids=("HumanEval/nope",)), tmp_path / "b")


def test_heldout_tests_never_reach_prompts_or_sandboxes(tmp_path):
    """The bash agent looks everywhere in its repo; the rewrite agent's prompts are checked too."""
    probe = ["```bash\nls -laR\n```", "```bash\ncat *.py; git log --stat --all\n```",
             "```bash\ngrep -rn --exclude-dir=.git 'def check\\|candidate' . || echo no-match\n```", "```bash\nsubmit\n```"]
    script = tmp_path / "probe.json"
    script.write_text(json.dumps({"rules": [{"match": "Solve this task", "replies": probe}]}))
    run_agent(config(script, agent="bash", samples=1), tmp_path / "bash")
    rewrite = write_script(tmp_path / "s.json")
    run_agent(config(rewrite, samples=1), tmp_path / "rewrite")
    rows = lines(tmp_path / "bash") + lines(tmp_path / "rewrite")
    assert len(rows) == 6
    tasks = {t.id: t for t in TASKS}
    bash_rows = [r for r in rows if r["agent"] == "bash"]
    assert all(len(r["steps"]) == 3 and "solution.py" in r["steps"][0]["observation"] for r in bash_rows)
    assert all("no-match" in r["steps"][2]["observation"] for r in bash_rows)
    for r in rows:
        heldout = tasks[r["task_id"]].heldout_tests["test_heldout.py"]
        secret = [line for line in heldout.splitlines() if "candidate" in line or "check" in line]
        assert secret
        chat = "\n".join(m["content"] for m in r["messages"])
        assert "test_heldout" not in chat
        for line in secret:
            assert line.strip() not in chat, line


@pytest.mark.model
def test_smollm2_run_end_to_end(tmp_path):
    """The shipped default model through the real CLI: 3 tasks x 2 samples, real text, real patches."""
    out = tmp_path / "smol"
    r = subprocess.run([sys.executable, "-m", "codeagent", "run", "--task-set", "humaneval", "--model", "smollm2-135m",
                        "--samples", "2", "--max-tasks", "3", "--max-tokens", "256", "--backend", BACKEND,
                        "--concurrency", "6", "--no-progress", "--out", str(out)],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = lines(out)
    assert {row["attempt_id"] for row in rows} == EXPECTED and len(rows) == 6
    from codeagent.evaluation.patching import apply_patch
    tasks = {t.id: t for t in TASKS}
    for row in rows:
        reply = row["messages"][-1]
        assert reply["role"] == "assistant" and reply["content"].strip() and row["completion_tokens"] > 0
        assert row["model"] == "smollm2-135m"
        assert row["exit_status"] == "submitted", (row["exit_status"], reply["content"][:500])
        files = apply_patch(tasks[row["task_id"]].repo_files, row["patch"])
        assert files["solution.py"] != tasks[row["task_id"]].repo_files["solution.py"]


@pytest.mark.docker
def test_run_in_docker_sandboxes(tmp_path):
    """Both agents through the docker backend (warm pool): same records as with local."""
    probe = ["```bash\nls -la && cat solution.py | head -3\n```",
             "```bash\nprintf '    return None\\n' >> solution.py && python3 -c 'import solution'\n```",
             "```bash\nsubmit\n```"]
    script = tmp_path / "probe.json"
    script.write_text(json.dumps({"rules": [{"match": "Solve this task", "replies": probe}]}))
    bash = run_agent(config(script, agent="bash", samples=1, backend="docker"), tmp_path / "bash")
    rewrite = run_agent(config(write_script(tmp_path / "s.json"), samples=1, backend="docker"), tmp_path / "rw")
    assert bash.exit_statuses == {"submitted": 3} and rewrite.exit_statuses == {"submitted": 3}
    for r in lines(tmp_path / "bash"):
        assert r["sandbox_backend"] == "docker"
        assert "solution.py" in r["steps"][0]["observation"] and "test_heldout" not in r["steps"][0]["observation"]
        assert r["steps"][1]["exit_code"] == 0
        assert "+    return None" in r["patch"] and "__pycache__" not in r["patch"]
    for r in lines(tmp_path / "rw"):
        assert r["sandbox_backend"] == "docker" and r["patch"].startswith("diff --git a/solution.py")


def test_sample_seeds_depend_only_on_seed_task_and_index():
    from codeagent.agents.base import derive_seed
    code = "from codeagent.agents.base import derive_seed; print(derive_seed(7, 'HumanEval/3', 1))"
    other_process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other_process.stdout) == derive_seed(7, "HumanEval/3", 1)
    seeds = {derive_seed(s, t, k) for s in (0, 1) for t in ("a", "b") for k in range(3)}
    assert len(seeds) == 12 and all(0 <= x < 2 ** 31 for x in seeds)


def test_min_tier_keeps_only_the_harder_tasks_and_refuses_a_set_without_tiers(tmp_path):
    hard = [t for t in load_tasks("pyfuncs", "test") if t.metadata["tier"] >= 3][:2]
    script = tmp_path / "s.json"
    script.write_text(json.dumps({"rules": [{"match": f"def {t.entry_point}(",
                                              "reply": "```python\n" + t.reference_files["solution.py"] + "```\n"}
                                             for t in hard]}))
    run_agent(RunConfig(task_set="pyfuncs", split="test", model=f"scripted:{script}", min_tier=3, max_tasks=2,
                        backend=BACKEND, progress=False), tmp_path / "a")
    assert {r["task_id"] for r in lines(tmp_path / "a")} == {t.id for t in hard}
    with pytest.raises(RunError, match="--min-tier 3: task set 'humaneval' has tasks without a tier"):
        run_agent(config(script, min_tier=3), tmp_path / "b")
