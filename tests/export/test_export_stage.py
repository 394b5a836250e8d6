"""Export stage against a real run dir (real git-diff patches, real Attempt/Verdict records)."""

from __future__ import annotations

import json

import pytest

from codeagent.cli import main
from codeagent.export import ExportError, export_runs
from export_fixtures import build_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return build_run(tmp_path_factory.mktemp("export"))


def _dropped(out) -> dict[str, str]:
    return {r["attempt_id"]: r["reason"] for r in map(json.loads, (out / "dropped.jsonl").read_text().splitlines())}


def test_filters_each_drop_for_its_reason(run, tmp_path):
    run_dir, _ = run
    s = export_runs([run_dir], "both", "openai", tmp_path, progress=False)
    dropped = _dropped(tmp_path)
    assert dropped["toyset/rev#0"] == "hack-flagged:touches-tests"
    assert dropped["toyset/rev#1"] == "rejected-by-both"
    assert dropped["toyset/total#0"] == "rejected-by-both"  # heldout passed, generated did not
    assert dropped["toyset/shout#1"] == "duplicate-of:run-1:toyset/shout#0"  # differs only in comments/spaces
    assert dropped["toyset/shout#3"] == "over-cap:2"
    assert dropped["toyset/evens#0"].startswith("eval-split:") and dropped["toyset/evens#0"].endswith(":test")
    assert dropped["toyset/only_even#0"].startswith("ngram-overlap:toyset/evens:")
    assert s.n_examples == 3
    assert s.counts == {"attempts": 10, "accepted": 7, "not in an eval split": 6, "usable": 6,
                        "no n-gram overlap": 5, "deduplicated": 4, "capped (exported)": 3}
    sheet = json.loads((tmp_path / "datasheet.json").read_text())
    assert sheet["per_task"] == {"toyset/shout": 2, "toyset/total": 1}
    assert sheet["per_family"]["strings"] == {"attempts": 6, "accepted": 4, "exported": 2}
    assert sheet["runs"][0]["verifier_precision"] == 0.875
    assert sheet["hack_kinds"] == {"touches-tests": 1}
    md = (tmp_path / "datasheet.md").read_text()
    assert "ngram-overlap: 1" in md and "0.875" in md


def test_verifier_choice_and_cap_change_what_is_kept(run, tmp_path):
    run_dir, _ = run
    heldout = export_runs([run_dir], "heldout", "openai", tmp_path / "h", max_per_task=None, progress=False)
    assert heldout.n_examples == 5  # + total#0 (heldout only) and shout#3 (no cap)
    assert "toyset/total#0" not in _dropped(tmp_path / "h")
    # a longer n-gram than the shared docstring lets the near-copy through; no eval set lets evens through
    loose = export_runs([run_dir], "both", "openai", tmp_path / "l", eval_sets=[], ngram=40, progress=False)
    assert {"toyset/only_even#0", "toyset/evens#0"}.isdisjoint(_dropped(tmp_path / "l"))


def test_openai_format_schema(run, tmp_path):
    run_dir, _ = run
    export_runs([run_dir], "both", "openai", tmp_path, progress=False)
    lines = (tmp_path / "train.jsonl").read_text().splitlines()
    assert len(lines) == 3
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"messages"}
        msgs = record["messages"]
        assert all(set(m) == {"role", "content"} and isinstance(m["content"], str) for m in msgs)
        assert all(m["role"] in ("system", "user", "assistant") for m in msgs)
        assert msgs[-1]["role"] == "assistant" and msgs[0]["role"] == "system"
    single = json.loads(lines[0])["messages"]
    # the reply is the verified solution file in one fenced block, without the agent's chatter
    assert [m["role"] for m in single] == ["system", "user", "assistant"]
    assert single[-1]["content"] == "```python\ndef shout(s: str) -> str:\n    return s.upper() + '!'\n```"
    multi = json.loads(lines[2])["messages"]
    assert sum(m["role"] == "assistant" for m in multi) == 5  # 4 actions + the format error, turns kept
    assert multi[-1]["content"].endswith("```bash\necho SUBMIT\n```")


def test_tools_format_has_valid_tool_calls(run, tmp_path):
    run_dir, _ = run
    export_runs([run_dir], "both", "tools", tmp_path, progress=False)
    records = [json.loads(x) for x in (tmp_path / "train.jsonl").read_text().splitlines()]
    bash = [r for r in records if any("tool_calls" in m for m in r["messages"])]
    assert len(bash) == 1
    r = bash[0]
    assert r["tools"][0]["function"]["name"] == "bash"
    assert r["tools"][0]["function"]["parameters"]["required"] == ["command"]
    calls, answered = {}, []
    for m in r["messages"]:
        if m["role"] == "assistant":
            for c in m["tool_calls"]:
                assert c["type"] == "function" and c["function"]["name"] == "bash"
                calls[c["id"]] = json.loads(c["function"]["arguments"])["command"]
        elif m["role"] == "tool":
            assert m["tool_call_id"] in calls and isinstance(m["content"], str)
            answered.append(m["tool_call_id"])
    assert list(calls.values()) == ["cat solution.py",
                                    "cat > solution.py <<'EOF'\ndef total(xs: list) -> int:\n    t = 0\n"
                                    "    for x in xs:\n        t += x\n    return t\nEOF",
                                    "python -c 'import solution'", "echo SUBMIT"]
    assert answered == ["call_0", "call_1", "call_2"]  # ends on the last tool call
    assert r["messages"][-1]["role"] == "assistant"
    assert r["messages"][2]["content"] == "Step 0."  # the prose, without the code block


def test_hf_format_loads_from_disk_and_parquet(run, tmp_path):
    from datasets import Dataset, load_from_disk
    from trl.data_utils import is_conversational

    run_dir, _ = run
    export_runs([run_dir], "both", "hf", tmp_path, progress=False)
    ds = load_from_disk(str(tmp_path / "dataset"))
    pq = Dataset.from_parquet(str(tmp_path / "train.parquet"))
    assert len(ds) == len(pq) == 3
    assert ds[0]["messages"] == pq[0]["messages"]
    assert is_conversational(ds[0]) and ds[0]["task_id"] == "toyset/shout"
    assert ds[2]["messages"][-1]["role"] == "assistant"


def test_empty_hf_export_still_loads_with_its_columns(run, tmp_path):
    import pyarrow.parquet as pq
    from datasets import load_from_disk

    run_dir, ts = run
    s = export_runs([run_dir], "both", "hf", tmp_path, eval_sets=[str(ts)], progress=False)  # every task is eval
    assert s.n_examples == 0
    ds = load_from_disk(str(tmp_path / "dataset"))
    assert len(ds) == 0 and "messages" in ds.column_names
    table = pq.read_table(tmp_path / "train.parquet")
    assert table.num_rows == 0 and "messages" in table.column_names


@pytest.mark.slow
@pytest.mark.model
def test_hf_export_is_consumed_by_trl(run, tmp_path):
    """SFTTrainer tokenizes the exported dataset as it is (its own dataset preparation)."""
    import torch
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from codeagent.models.smollm2 import smollm2_hf_folder

    run_dir, _ = run
    export_runs([run_dir], "both", "hf", tmp_path, progress=False)
    folder = smollm2_hf_folder()
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32)
    trainer = SFTTrainer(model=model, processing_class=tok, train_dataset=load_from_disk(str(tmp_path / "dataset")),
                         args=SFTConfig(output_dir=str(tmp_path / "o"), max_steps=1, report_to="none",
                                        use_cpu=True, max_length=256))
    prepared = trainer.train_dataset
    assert len(prepared) == 3 and "input_ids" in prepared.column_names
    text = tok.decode(prepared[0]["input_ids"])
    assert "<|im_start|>assistant\n```python\ndef shout" in text


def test_errors_name_the_fix(run, tmp_path):
    run_dir, _ = run
    with pytest.raises(ExportError, match="unknown export format 'csv'; known: hf, openai, tools"):
        export_runs([run_dir], "both", "csv", tmp_path, progress=False)
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((run_dir / "config.json").read_text())
    with pytest.raises(ExportError, match=r"no trajectories\.jsonl.*codeagent run"):
        export_runs([bare], "both", "openai", tmp_path / "o", progress=False)
    (bare / "trajectories.jsonl").write_text((run_dir / "trajectories.jsonl").read_text())
    only_heldout = [json.loads(x) for x in (run_dir / "verdicts.jsonl").read_text().splitlines()]
    (bare / "verdicts.jsonl").write_text("".join(json.dumps({**v, "parts": {"heldout": v["parts"]["heldout"]}}) + "\n" for v in only_heldout))
    with pytest.raises(ExportError, match=r"no generated verdicts.*codeagent verify .* --verifiers generated"):
        export_runs([bare], "generated", "openai", tmp_path / "o", progress=False)
    (bare / "trajectories.jsonl").write_text("{not json\n")
    with pytest.raises(ExportError, match=r"trajectories\.jsonl:1: not valid JSON"):
        export_runs([bare], "heldout", "openai", tmp_path / "o", progress=False)


def test_cli_exports_and_reports(run, tmp_path, capsys):
    run_dir, _ = run
    assert main(["export", str(run_dir), "--verifier", "both", "--format", "openai", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "exported 3 examples" in out and "ngram-overlap 1" in out and "hack-flagged 1" in out
    with pytest.raises(SystemExit) as e:
        main(["export", str(run_dir), "--verifier", "both", "--format", "xml", "--out", str(tmp_path)])
    assert e.value.code == 1
    assert "unknown export format 'xml'" in capsys.readouterr().err
