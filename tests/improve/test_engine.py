"""The loop's choice of sampling engine: which spec each stage loads, and one server at a time."""

from __future__ import annotations

import pytest

from codeagent.errors import UserError
from codeagent.improve.config import ImproveConfig
from codeagent.improve.engine import Serving, on_engine


def test_specs_on_each_engine(tmp_path):
    assert on_engine("smollm2-135m", "hf") == "smollm2-135m"
    assert on_engine("smollm2-135m", "vllm") == "vllm:smollm2-135m"
    assert on_engine("qwen2.5-coder-0.5b", "vllm") == "vllm:qwen2.5-coder-0.5b"
    assert on_engine(f"hf:{tmp_path}", "vllm") == f"vllm:{tmp_path}"  # a trained checkpoint folder
    assert on_engine("hf:org/hub-id", "vllm") == "hf:org/hub-id"  # not a local folder: left alone
    assert on_engine("openai:gpt", "vllm") == "openai:gpt"
    with pytest.raises(UserError, match="--engine must be one of hf, vllm, got 'tgi'"):
        on_engine("smollm2-135m", "tgi")
    with pytest.raises(UserError, match="--engine must be hf or vllm"):
        ImproveConfig(engine="tgi")


def test_hf_engine_serves_nothing(tmp_path):
    with Serving("hf", tmp_path) as serving:
        assert serving.use("smollm2-135m") == "smollm2-135m"
        assert serving._model is None
    assert not (tmp_path / "vllm-server.log").exists()
