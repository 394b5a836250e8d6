"""`codeagent train` end to end on the shipped SmolLM2: the loss on the training set goes down,
the checkpoint is a plain HF folder that `load_model("hf:CKPT")` generates with, and a rerun
resumes from the last trainer checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeagent.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.model]

N_EXAMPLES = 24


def _write_data(folder: Path) -> list[list[dict]]:
    """A few dozen short examples through the real `hf` export writer."""
    from codeagent.export.base import Example
    from codeagent.export.hf import HFFormat

    examples = []
    for n in range(N_EXAMPLES):
        messages = [{"role": "system", "content": "You write Python functions."},
                    {"role": "user", "content": f"Write add_{n}(x) that returns x plus {n}."},
                    {"role": "assistant", "content": f"```python\ndef add_{n}(x):\n    return x + {n}\n```"}]
        examples.append(Example(attempt_id=f"t/add_{n}#0", run_id="r", task_id=f"t/add_{n}", task_set="t",
                                family="arith", messages=messages))
    folder.mkdir(parents=True)
    HFFormat().write(examples, folder)
    return [e.messages for e in examples]


def _mean_loss(folder: Path, conversations) -> float:
    """Mean per-token loss on the assistant tokens, the quantity SFT minimizes."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from codeagent.train.data import tokenize_conversation

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    losses = []
    with torch.no_grad():
        for conv in conversations:
            r = tokenize_conversation(tok, conv, 128)
            out = model(input_ids=torch.tensor([r["input_ids"]]), labels=torch.tensor([r["labels"]]))
            losses.append(out.loss.item())
    return sum(losses) / len(losses)


def test_train_lowers_loss_and_checkpoint_loads_and_resumes(tmp_path, capsys):
    from codeagent.models import SamplingParams, load_model
    from codeagent.models.smollm2 import smollm2_hf_folder

    data, ckpt = tmp_path / "data", tmp_path / "ckpt"
    conversations = _write_data(data)
    argv = ["train", "--data", str(data), "--out", str(ckpt), "--max-steps", "4", "--batch-size", "4",
            "--lr", "1e-4", "--warmup", "0", "--max-length", "128", "--save-steps", "2", "--keep-checkpoints"]
    assert main(argv) == 0
    assert "trained 4 steps" in capsys.readouterr().out

    before, after = _mean_loss(smollm2_hf_folder(), conversations), _mean_loss(ckpt, conversations)
    assert after < 0.7 * before, (before, after)

    log = json.loads((ckpt / "training_log.json").read_text())
    assert [step for step, _ in log["loss_curve"]] == [1, 2, 3, 4]
    assert log["data"]["n_examples"] == N_EXAMPLES and log["resumed_from"] is None
    assert (ckpt / "model.safetensors").is_file() and (ckpt / "chat_template.jinja").is_file()
    card = (ckpt / "README.md").read_text()
    assert str(data / "dataset") in card and "| learning_rate | 0.0001 |" in card

    model = load_model(f"hf:{ckpt}")
    try:
        [[c]] = model.generate([conversations[3][:2]], SamplingParams(max_tokens=24))
    finally:
        model.close()
    assert c.text.strip() and c.completion_tokens > 0

    # an interrupted final save: the rerun resumes from the last trainer checkpoint and finishes
    (ckpt / "training_log.json").unlink()
    assert main(argv) == 0
    log = json.loads((ckpt / "training_log.json").read_text())
    assert log["resumed_from"].endswith("checkpoint-4") and log["global_step"] == 4
    # another config must not silently reuse this folder
    with pytest.raises(SystemExit):
        main([*argv[:-1], "--lr", "3e-4"])
    assert "already holds a model trained with another config" in capsys.readouterr().err


def test_lora_merges_into_plain_weights(tmp_path):
    import torch
    from safetensors.torch import load_file

    from codeagent.models.smollm2 import smollm2_hf_folder
    from codeagent.train import TrainConfig, train_sft

    data = tmp_path / "data"
    _write_data(data)
    out = train_sft(TrainConfig(data=data, out=tmp_path / "ckpt", lora=True, max_steps=2, batch_size=4,
                                max_length=128, warmup=0, progress=False))
    assert not (out / "checkpoints").exists() and not (out / "adapter_config.json").exists()
    tuned = load_file(str(out / "model.safetensors"))
    base = load_file(str(smollm2_hf_folder() / "model.safetensors"))
    assert not any("lora" in k for k in tuned)
    key = "model.layers.0.self_attn.q_proj.weight"
    assert tuned[key].shape == base[key].shape and not torch.equal(tuned[key], base[key])


def test_bf16_without_activation_checkpointing_trains_in_a_child_and_says_so(tmp_path):
    from codeagent.train import TrainConfig, TrainError, train_sft

    data = tmp_path / "data"
    conversations = _write_data(data)
    with pytest.raises(TrainError):  # the child's error reaches the caller as itself
        train_sft(TrainConfig(data=tmp_path / "missing", out=tmp_path / "x", in_child=True, progress=False))
    out = train_sft(TrainConfig(data=data, out=tmp_path / "ckpt", lora=True, max_steps=3, batch_size=4, lr=1e-3,
                                max_length=128, warmup=0, progress=False, precision="bf16",
                                activation_checkpointing=False, in_child=True))
    log = json.loads((out / "training_log.json").read_text())
    assert log["precision"] == "bf16" and log["config"]["activation_checkpointing"] is False
    from codeagent.models.smollm2 import smollm2_hf_folder
    assert _mean_loss(out, conversations) < _mean_loss(smollm2_hf_folder(), conversations)


def test_precision_is_checked_and_auto_follows_the_hardware(tmp_path):
    from codeagent.train import TrainConfig
    from codeagent.train.config import TrainError, native_bf16

    with pytest.raises(TrainError, match="precision must be one of fp32, bf16, auto"):
        TrainConfig(data=tmp_path, out=tmp_path, precision="fp8")
    auto = TrainConfig(data=tmp_path, out=tmp_path, precision="auto", device="cpu")
    flags = Path("/proc/cpuinfo").read_text().split()
    assert native_bf16("cpu") == ("amx_bf16" in flags or "avx512_bf16" in flags)
    assert auto.resolved_precision() == ("bf16" if native_bf16("cpu") else "fp32")
    assert TrainConfig(data=tmp_path, out=tmp_path).resolved_precision() == "fp32"
