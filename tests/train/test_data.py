"""Loss labels: assistant turns only, with their closing <|im_end|> kept through TRL's collator."""

from __future__ import annotations

import json

import pytest

from codeagent.train import TrainError
from codeagent.train.data import IGNORE, load_training_data, tokenize_conversation

pytestmark = pytest.mark.model

CONV = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Write f."},
        {"role": "assistant", "content": "```python\ndef f():\n    return 1\n```"},
        {"role": "user", "content": "exit code 0"},
        {"role": "assistant", "content": "done"}]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    from codeagent.models.smollm2 import smollm2_hf_folder
    return AutoTokenizer.from_pretrained(str(smollm2_hf_folder()))


def test_only_assistant_turns_and_their_eos_are_learned(tokenizer):
    assert tokenizer.pad_token_id == tokenizer.eos_token_id  # the trap this guards against
    r = tokenize_conversation(tokenizer, CONV, 512)
    learned = tokenizer.decode([t for t, lab in zip(r["input_ids"], r["labels"]) if lab != IGNORE])
    assert learned == "```python\ndef f():\n    return 1\n```<|im_end|>done<|im_end|>"
    assert tokenizer.decode(r["input_ids"][-1:]) == "\n" and r["labels"][-1] == IGNORE  # template newline
    assert not r["truncated"]


def test_trl_collator_pads_without_masking_the_real_eos(tokenizer):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    long = tokenize_conversation(tokenizer, CONV, 512)
    short = tokenize_conversation(tokenizer, CONV[:3], 512)
    batch = DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)([short, long])
    labels, ids = batch["labels"][0].tolist(), batch["input_ids"][0].tolist()
    n = len(short["input_ids"])
    assert ids[n:] == [tokenizer.pad_token_id] * (len(ids) - n)  # padded with the EOS id...
    assert labels[n:] == [IGNORE] * (len(ids) - n)  # ...which is masked only where it is padding
    eos_positions = [i for i in range(n) if ids[i] == tokenizer.eos_token_id and labels[i] == tokenizer.eos_token_id]
    assert len(eos_positions) == 1  # the assistant's own <|im_end|> stays a target


def test_truncation_that_leaves_no_answer_drops_the_example(tokenizer):
    assert tokenize_conversation(tokenizer, CONV[:3], 8) is None
    cut = tokenize_conversation(tokenizer, CONV, 40)
    assert cut["truncated"] and len(cut["input_ids"]) == 40


def test_bad_data_is_reported_with_its_line(tmp_path):
    (tmp_path / "train.jsonl").write_text(json.dumps({"messages": CONV[:3]}) + "\n"
                                          + json.dumps({"messages": CONV[:2]}) + "\n")
    with pytest.raises(TrainError, match=r"train\.jsonl: line 2: the last message must be the assistant's"):
        load_training_data(tmp_path)
    (tmp_path / "train.jsonl").write_text(json.dumps({"messages": CONV[:3], "tools": []}) + "\n")
    with pytest.raises(TrainError, match=r"train\.jsonl:1: tool-calling data.*--format hf"):
        load_training_data(tmp_path)
    with pytest.raises(TrainError, match="codeagent export"):
        load_training_data(tmp_path / "missing")
