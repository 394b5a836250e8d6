"""`vllm:` specs for real: a vLLM server process serving the shipped SmolLM2, over real HTTP.

One server is started for the module (start-up is the expensive part); the crash test kills it,
so it runs last. The Ctrl-C test starts its own server in a child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeagent.models import ContextLengthError, ModelError, SamplingParams, load_model
from codeagent.models.vllm_server import find_python, group_members

pytestmark = [pytest.mark.slow, pytest.mark.model]

CODING = [{"role": "user", "content": "Write a Python function `add(a, b)` that returns the sum of a and b."}]
OTHERS = [[{"role": "user", "content": f"Write a Python function that returns the {w} of a list of numbers."}]
          for w in ("maximum", "average", "length")]
ROOT = Path(__file__).resolve().parents[2]
KV_GIB = 1  # ample for these short prompts, and kind to a machine where other jobs need memory


@pytest.fixture(scope="module")
def vllm_python():
    """The vLLM environment setup.sh makes; skipped locally without it, a failure in CI."""
    try:
        return find_python()
    except ModelError as e:
        if os.environ.get("CI"):
            pytest.fail(f"{e} (CI is set, so vLLM tests must not be skipped)", pytrace=False)
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def served(vllm_python, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("vllm-run")
    model = load_model("vllm:smollm2-135m", log_dir=log_dir, kv_cache_gib=KV_GIB)
    yield model, log_dir
    model.close()


def test_generates_greedily_with_the_chat_template(served):
    model, log_dir = served
    params = SamplingParams(max_tokens=48)
    first = model.generate([CODING], params)[0][0]
    assert model.spec == "vllm:smollm2-135m"
    assert "def add" in first.text and first.completion_tokens <= 48
    assert model.generate([CODING], params)[0][0].text == first.text
    assert first.prompt_tokens > 10  # the chat template was applied around the user message
    assert "Starting vLLM server on http://127.0.0.1:" in (log_dir / "vllm-server.log").read_text()


def test_greedy_text_matches_the_hf_backend(served):
    """Same model, same chat template, fp32 on both sides: the same greedy text."""
    model, _ = served
    params = SamplingParams(max_tokens=32)
    with load_model("smollm2-135m") as local:
        expected = [cs[0].text for cs in local.generate([CODING, *OTHERS], params)]
    assert [cs[0].text for cs in model.generate([CODING, *OTHERS], params)] == expected


def test_stop_strings_end_generation_on_the_server(served):
    model, _ = served
    full = model.generate([CODING], SamplingParams(max_tokens=48))[0][0]
    assert "\n" in full.text.strip()
    stopped = model.generate([CODING, *OTHERS], SamplingParams(max_tokens=48, stop=("\n",)))
    first = stopped[0][0]
    assert first.text == full.text.split("\n")[0]
    # fewer tokens generated: the server stopped, not just the client cutting the text
    assert first.finish_reason == "stop" and first.completion_tokens < full.completion_tokens
    assert all("\n" not in cs[0].text for cs in stopped)


def test_seeds_and_n_samples(served):
    model, _ = served
    params = SamplingParams(n=2, temperature=0.9, top_p=0.95, max_tokens=24, seed=1234)
    out = model.generate([CODING, OTHERS[0]], params)
    assert [len(cs) for cs in out] == [2, 2]
    assert out[0][0].text != out[0][1].text  # n samples are not copies of one
    again = model.generate([CODING, OTHERS[0]], params)
    assert [[c.text for c in cs] for cs in again] == [[c.text for c in cs] for cs in out]
    other = model.generate([CODING], SamplingParams(n=2, temperature=0.9, top_p=0.95, max_tokens=24, seed=99))
    assert [c.text for c in other[0]] != [c.text for c in out[0]]


def test_many_seeded_samples_of_long_prompts_keep_the_engine_up(served):
    """Seeded sampling of more prompt tokens than one engine step holds: with chunked prefill,
    vLLM 0.32 on CPU cut a seeded request into chunks and its engine died rewinding the request's
    generator (`CPU Generator does not use offset`); the server now schedules whole prompts."""
    model, _ = served
    filler = " ".join(f"item{i}" for i in range(300))  # ~600 tokens per prompt, 16 prompts
    convs = [[{"role": "user", "content": f"{filler}\nWrite a Python function number {i}."}] for i in range(16)]
    params = SamplingParams(n=2, temperature=0.8, top_p=0.95, max_tokens=8, seed=7)
    out = model.generate(convs, params)
    assert [len(cs) for cs in out] == [2] * 16 and all(c.completion_tokens > 0 for cs in out for c in cs)
    assert model.server.alive()
    assert [[c.text for c in cs] for cs in model.generate(convs[:4], params)] == [[c.text for c in cs] for cs in out[:4]]


def test_a_conversation_past_the_context_window_is_a_context_length_error(served):
    """vLLM's 400 for a prompt longer than --max-model-len becomes ContextLengthError, which a
    multi-turn agent treats as a limit of its attempt; the server stays up."""
    model, _ = served
    long = [{"role": "user", "content": " ".join(f"word{i}" for i in range(3000)) + "\nSummarise."}]
    with pytest.raises(ContextLengthError, match="maximum context length"):
        model.generate([long], SamplingParams(max_tokens=8))
    assert model.server.alive() and model.generate([CODING], SamplingParams(max_tokens=4))[0][0].completion_tokens > 0


def test_models_of_one_folder_share_one_server(served):
    model, _ = served
    with load_model("vllm:smollm2-135m", kv_cache_gib=KV_GIB) as again:
        assert again.server is model.server
        assert "def add" in again.generate([CODING], SamplingParams(max_tokens=24))[0][0].text
    assert model.server.alive()  # closing the second reference left the first one's server up


def test_bad_specs_are_clear_errors(vllm_python, tmp_path):
    with pytest.raises(ModelError, match="neither an embedded model .* nor a transformers model folder"):
        load_model(f"vllm:{tmp_path}")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match=r"vLLM is not installed: run `bash scripts/setup.sh`.*has none"):
        load_model(f"vllm:{tmp_path}", python=sys.executable)  # codeagent's own venv has no vllm


def _child_loading_a_server(tmp_path) -> subprocess.Popen:
    """A codeagent-like child that loads `vllm:smollm2-135m`."""
    script = "import sys; from codeagent.models import load_model; load_model('vllm:smollm2-135m', log_dir=sys.argv[1], kv_cache_gib=1)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], env=env)


def _server_with_engine_up(child: subprocess.Popen) -> int:
    """The child's server pid once vLLM's engine process (titled `VLLM::EngineCore`) is in its group.
    Counting group members is not enough: start-up runs short-lived helpers in the same group.
    Nor is latching onto the child's first child: before the server, start-up may run a short-lived
    helper (a version probe), so each look takes the child's session leaders whose group holds the engine."""
    deadline = time.monotonic() + 300
    server = None
    while time.monotonic() < deadline and server is None:
        time.sleep(0.5)
        assert child.poll() is None, "the child ended before the server was up"
        server = next((pid for pid in children(child.pid) if _leads_group(pid) and _engine_in_group(pid)), None)
    assert server is not None, "vLLM's engine process did not start within 300 s"
    return server


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid
    except ProcessLookupError:
        return False


def _engine_in_group(group: int) -> bool:
    for pid in group_members(group):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"VLLM::EngineCore"):
                return True
        except OSError:
            continue
    return False


def test_ctrl_c_stops_the_server_and_its_engine(vllm_python, tmp_path):
    """Ctrl-C while the server starts (its engine process already up): everything goes. Sent during
    start-up so the test need not wait for a second warm server; serving uses the same stop()."""
    child = _child_loading_a_server(tmp_path)
    try:
        server = _server_with_engine_up(child)
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=60) != 0  # KeyboardInterrupt
    finally:
        child.kill()
        child.wait()
    assert group_members(server) == []


def test_a_server_whose_parent_is_killed_stops(vllm_python, tmp_path):
    """codeagent SIGKILLed (the OOM killer's way) while its server starts: the server's watchdog sees
    its parent gone and stops the whole group, even when vLLM's start-up swallows the PDEATHSIG."""
    child = _child_loading_a_server(tmp_path)
    try:
        server = _server_with_engine_up(child)
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 60
    while group_members(server) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert group_members(server) == []


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return found


def test_a_crashed_server_is_a_clear_error_and_leaves_no_process(served):
    """Runs last: it kills the module's server."""
    model, log_dir = served
    pgid = model.server.process.pid
    assert len(group_members(pgid)) >= 2
    os.kill(pgid, signal.SIGKILL)  # the API server dies; its engine processes are orphaned
    model.server.process.wait()
    t0 = time.monotonic()
    with pytest.raises(ModelError, match=rf"the vLLM server for .*smollm2-135m exited \(code -9\); "
                                         rf"last lines of its log {log_dir}/vllm-server.log"):
        model.generate([CODING], SamplingParams(max_tokens=8))
    assert time.monotonic() - t0 < 30  # said at once, not after minutes of retries
    model.close()
    assert group_members(pgid) == []
