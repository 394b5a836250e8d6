"""hf:PATH_OR_ID: a local transformers folder (the converted default model) and hub ids offline."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from codeagent.models import ModelError, SamplingParams, load_model
from codeagent.models.smollm2 import smollm2_hf_folder


@pytest.mark.model
@pytest.mark.slow
def test_local_folder_loads_and_generates():
    folder = smollm2_hf_folder()
    spec = f"hf:{folder}"
    model = load_model(spec, max_batch=2, threads=1)
    try:
        out = model.generate([[{"role": "system", "content": "You write Python."},
                               {"role": "user", "content": "Write a function that squares x."}]],
                             SamplingParams(max_tokens=24))
        assert model.spec == spec
        assert out[0][0].text.strip() and 0 < out[0][0].completion_tokens <= 24
        # the system message given replaces the template's default one
        prompt = model.tokenizer.decode(model._encode([{"role": "system", "content": "You write Python."},
                                                       {"role": "user", "content": "hi"}], 0))
        assert "You write Python." in prompt and "SmolLM" not in prompt
    finally:
        model.close()


def test_hub_id_offline_gives_clear_error():
    # In a child process: huggingface_hub reads HF_HUB_OFFLINE when it is first imported.
    code = ("from codeagent.models import load_model, ModelError\n"
            "try:\n    load_model('hf:codeagent-tests/no-such-model')\n"
            "except ModelError as e:\n    print('MODELERROR', e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "MODELERROR cannot load hub model 'codeagent-tests/no-such-model': HF_HUB_OFFLINE is set" in done.stdout
    assert "pass a local folder" in done.stdout


def test_bad_local_paths_give_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_model(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ModelError, match=r"not a transformers model folder \(no config.json\)"):
        load_model(f"hf:{tmp_path}")
    with pytest.raises(ModelError, match="missing its PATH_OR_ID"):
        load_model("hf:")


def test_threads_env_is_read_and_checked(monkeypatch):
    from codeagent.models.hf import THREADS_ENV, env_threads
    monkeypatch.delenv(THREADS_ENV, raising=False)
    assert env_threads() is None
    monkeypatch.setenv(THREADS_ENV, "3")
    assert env_threads() == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(ModelError, match=THREADS_ENV):
            env_threads()
