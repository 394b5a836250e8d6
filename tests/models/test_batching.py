"""The batching engine's sampler and stop filter, on synthetic logits and the real tokenizer."""

import collections

import pytest
import torch

from codeagent.models.batching import Job, _stop_enders, sample


def _job(temperature=1.0, top_p=1.0, seed=0):
    return Job(prompt=[1], max_tokens=8, temperature=temperature, top_p=top_p,
               generator=torch.Generator().manual_seed(seed))


def test_greedy_rows_take_the_argmax_and_sampled_rows_follow_the_distribution():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    logits = probs.log().repeat(2, 1)
    hot = _job(seed=7)
    counts = collections.Counter()
    for _ in range(4000):
        greedy, token = sample(logits, [_job(temperature=0.0), hot])
        assert greedy == 3
        counts[token] += 1
    freq = torch.tensor([counts[i] / 4000 for i in range(4)])
    assert torch.allclose(freq, probs, atol=0.03), freq


def test_top_p_keeps_only_the_nucleus():
    logits = torch.tensor([[0.05, 0.6, 0.05, 0.3]]).log()
    job = _job(top_p=0.8, seed=3)
    seen = {sample(logits, [job])[0] for _ in range(500)}
    assert seen == {1, 3}  # 0.6 alone is short of 0.8; 0.6 + 0.3 reaches it
    job = _job(top_p=0.5, seed=3)
    assert {sample(logits, [job])[0] for _ in range(200)} == {1}


def test_a_seeded_row_does_not_depend_on_its_neighbours():
    torch.manual_seed(0)
    logits = torch.randn(6, 50)
    alone = [sample(logits[2:3], [_job(seed=11)])[0]]
    job = _job(seed=11)
    others = [_job(seed=s) for s in range(5)]
    together = sample(logits, [others[0], others[1], job, _job(temperature=0.0), others[3], others[4]])
    assert together[2] == alone[0]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer
    from codeagent.models.smollm2 import smollm2_hf_folder
    return AutoTokenizer.from_pretrained(smollm2_hf_folder())


def test_stop_enders_hold_every_token_that_can_end_a_fence(tokenizer):
    decode = lambda ids: tokenizer.decode(ids, skip_special_tokens=True)  # noqa: E731
    enders = _stop_enders(("```",), decode, len(tokenizer))
    fence_tokens = {t for t in range(len(tokenizer)) if "`" in decode([t])}
    assert fence_tokens and fence_tokens <= enders
    assert tokenizer.encode("def", add_special_tokens=False)[0] not in enders
    # whitespace or non-ASCII endings are not filtered: every token is checked
    assert _stop_enders(("\n\n",), decode, len(tokenizer)) is None
    assert _stop_enders(("fin\u00e9",), decode, len(tokenizer)) is None
