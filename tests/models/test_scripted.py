"""scripted:FILE, the deterministic model of agent-loop tests."""

import json
import threading

import pytest

from codeagent.models import ModelError, SamplingParams, load_model


def user(text):
    return [{"role": "system", "content": "sys"}, {"role": "user", "content": text}]


def test_in_order_list_with_n_samples_then_a_clear_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(["one two", "three", {"text": "four", "finish_reason": "length"}]))
    model = load_model(f"scripted:{path}")
    assert model.spec == f"scripted:{path}"
    [[a, b]] = model.generate([user("hi there")], SamplingParams(n=2))
    assert (a.text, a.completion_tokens, a.prompt_tokens) == ("one two", 2, 3)
    assert b.text == "three"
    [[c]] = model.generate([user("x")])
    assert c.finish_reason == "length"
    with pytest.raises(ModelError, match=r"ran out of replies after 3; add more"):
        model.generate([user("x")])


def test_rules_script_whole_conversations_by_turn(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"match_last": "exit code: 1", "reply": "it failed"},
        {"match": "task A", "replies": ["A0", "A1"]},
        {"match": "task B", "reply": "always B"},
    ]) + "\n")
    model = load_model(f"scripted:{path}")
    conv = user("solve task A")
    assert model.generate([conv])[0][0].text == "A0"
    conv += [{"role": "assistant", "content": "A0"}, {"role": "user", "content": "exit code: 0"}]
    assert model.generate([conv])[0][0].text == "A1"
    assert model.generate([conv[:-1] + [{"role": "user", "content": "exit code: 1"}]])[0][0].text == "it failed"
    conv += [{"role": "assistant", "content": "A1"}, {"role": "user", "content": "more"}]
    with pytest.raises(ModelError, match=r"rule #2 \(match 'task A'\) has 2 replies but turn 3"):
        model.generate([conv])
    assert [c[0].text for c in model.generate([user("task B"), user("x task B")])] == ["always B"] * 2
    with pytest.raises(ModelError, match="no rule matches"):
        model.generate([user("task C")])


def test_stop_strings_and_max_tokens_apply_like_a_real_backend(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"rules": [{"match": "", "reply": "```python\nx = 1\n```\nchatter after"}]}))
    model = load_model(f"scripted:{path}")
    assert model.generate([user("q")], SamplingParams(stop=("\n```\n",)))[0][0].text == "```python\nx = 1"
    short = model.generate([user("q")], SamplingParams(max_tokens=3))[0][0]
    assert (short.text, short.finish_reason, short.completion_tokens) == ("```python\nx =", "length", 3)


def test_error_replies_raise_model_error(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([{"error": "HTTP 503 from server"}]))
    with pytest.raises(ModelError, match="HTTP 503"):
        load_model(f"scripted:{path}").generate([user("q")])


def test_thread_safe_queue_gives_each_reply_once(tmp_path):
    path = tmp_path / "r.json"
    path.write_text(json.dumps([f"r{i}" for i in range(400)]))
    model = load_model(f"scripted:{path}")
    got, lock = [], threading.Lock()

    def worker():
        for _ in range(50):
            text = model.generate([user("q")])[0][0].text
            with lock:
                got.append(text)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == sorted(f"r{i}" for i in range(400)) and model.calls == 400


@pytest.mark.parametrize("content,message", [
    ("{not json", r"r\.json: not valid JSON"),
    ('{"rules": [{"reply": "x"}]}', r"rule #1: a rule needs 'match' or 'match_last'"),
    ('{"rules": [{"match": "a", "reply": "x", "replies": ["y"]}]}', "exactly one of 'reply' or 'replies'"),
    ('{"rulez": []}', "expected a list of replies or an object"),
    ('[1]', "a reply is a string or an object"),
])
def test_bad_scripts_are_reported_with_the_file(tmp_path, content, message):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(ModelError, match=message):
        load_model(f"scripted:{path}")


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('"ok"\n{broken\n')
    with pytest.raises(ModelError, match=r"r\.jsonl:2: not valid JSON"):
        load_model(f"scripted:{path}")
    with pytest.raises(ModelError, match="not found"):
        load_model(f"scripted:{tmp_path / 'missing.json'}")
