"""openai:MODEL against a real local HTTP server (tests/models/fake_openai_server.py)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from codeagent.models import ContextLengthError, ModelError, SamplingParams, load_model

from fake_openai_server import fake_openai_server

USER = [{"role": "user", "content": "add two numbers"}]


def model_for(url, **options):
    options.setdefault("backoff", 0.01)
    return load_model("openai:fake-model", base_url=url, api_key="k", **options)


def test_generate_one_completion_per_conversation_with_usage():
    with fake_openai_server() as (url, knobs):
        model = model_for(url)
        convs = [USER, [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}]]
        out = model.generate(convs, SamplingParams(max_tokens=50))
        assert model.spec == "openai:fake-model"
        assert [[c.text for c in cs] for cs in out] == [["echo[0]: add two numbers"], ["echo[0]: hi there"]]
        assert out[0][0].prompt_tokens == 3 and out[0][0].completion_tokens == 4
        assert out[1][0].prompt_tokens == 4 and out[0][0].finish_reason == "stop"
        sent = {b["messages"][-1]["content"]: b for b in knobs.requests}
        assert sent["add two numbers"]["model"] == "fake-model"
        assert sent["add two numbers"]["max_tokens"] == 50


def test_n_samples_in_one_request():
    with fake_openai_server() as (url, knobs):
        out = model_for(url).generate([USER], SamplingParams(n=3, temperature=0.7, seed=5))
        assert [c.text for c in out[0]] == [f"echo[{i}]: add two numbers" for i in range(3)]
        assert len(knobs.requests) == 1 and knobs.requests[0]["n"] == 3 and knobs.requests[0]["seed"] == 5


def test_server_ignoring_n_is_topped_up_with_more_requests():
    with fake_openai_server(ignore_n=True) as (url, knobs):
        out = model_for(url).generate([USER], SamplingParams(n=3))
        assert len(out[0]) == 3 and len(knobs.requests) == 3
        assert [b["n"] for b in knobs.requests] == [3, 2, 1]


def test_stop_and_length():
    with fake_openai_server() as (url, _):
        model = model_for(url)
        assert model.generate([USER], SamplingParams(stop=("two",)))[0][0].text == "echo[0]: add "
        capped = model.generate([USER], SamplingParams(max_tokens=2))[0][0]
        assert capped.text == "echo[0]: add" and capped.finish_reason == "length"


@pytest.mark.parametrize("status", [500, 429])
def test_transient_failures_are_retried(status):
    with fake_openai_server(fail_first=2, fail_status=status) as (url, knobs):
        out = model_for(url, max_retries=3).generate([USER])
        assert out[0][0].text == "echo[0]: add two numbers"
        assert len(knobs.requests) == 3


def test_persistent_failure_gives_up_with_clear_error():
    with fake_openai_server(fail_first=100) as (url, knobs):
        with pytest.raises(ModelError, match=r"kept failing \(500\) after 3 tries"):
            model_for(url, max_retries=2).generate([USER])
        assert len(knobs.requests) == 3


def test_a_prompt_past_the_context_window_is_its_own_error_and_not_retried():
    with fake_openai_server(context_words=10) as (url, knobs):
        model = model_for(url, max_retries=3)
        assert model.generate([USER], SamplingParams(max_tokens=5))[0][0].text == "echo[0]: add two numbers"
        with pytest.raises(ContextLengthError, match="maximum context length is 10 tokens"):
            model.generate([USER], SamplingParams(max_tokens=8))
        assert len(knobs.requests) == 2
    with fake_openai_server(fail_first=1, fail_status=400) as (url, _):  # other 400s stay plain ModelErrors
        with pytest.raises(ModelError) as e:
            model_for(url).generate([USER])
        assert not isinstance(e.value, ContextLengthError)


def test_bad_key_is_not_retried():
    with fake_openai_server(api_key="right") as (url, knobs):
        with pytest.raises(ModelError, match="rejected the API key"):
            load_model("openai:m", base_url=url, api_key="wrong", backoff=0.01).generate([USER])
        assert len(knobs.requests) == 1


def test_unreachable_server_clear_error_after_fast_retries():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    start = time.monotonic()
    with pytest.raises(ModelError, match=f"at {url} is unreachable after 3 tries"):
        model_for(url, max_retries=2).generate([USER])
    assert time.monotonic() - start < 10


def test_concurrent_callers_and_concurrency_option():
    with fake_openai_server() as (url, knobs):
        model = model_for(url, concurrency=4)
        results: dict[int, str] = {}

        def worker(i):
            results[i] = model.generate([[{"role": "user", "content": f"task {i}"}]])[0][0].text

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {i: f"echo[0]: task {i}" for i in range(12)}
        assert len(knobs.requests) == 12


def test_env_base_url_and_unknown_spec(monkeypatch):
    with fake_openai_server() as (url, _):
        monkeypatch.setenv("OPENAI_BASE_URL", url)
        monkeypatch.setenv("OPENAI_API_KEY", "k")
        assert load_model("openai:m").generate([USER])[0][0].text == "echo[0]: add two numbers"
    with pytest.raises(ModelError, match="accepted forms: smollm2-135m, qwen2.5-coder-0.5b, hf:PATH_OR_ID, openai:MODEL"):
        load_model("gpt-5")
    with pytest.raises(ModelError, match="missing its MODEL"):
        load_model("openai:")
    # an option the backend does not have (`codeagent run --model-opt`) is named, with the ones it has
    with pytest.raises(ModelError, match=r"openai:m: no option max_model_len .*its options: base_url, api_key"):
        load_model("openai:m", base_url="http://127.0.0.1:9/v1", max_model_len=8192)


def test_registry_does_not_import_torch():
    import subprocess
    import sys
    code = "import codeagent.models, sys; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
