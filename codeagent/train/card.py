"""The checkpoint's `README.md`: base model, data source, hyper-parameters and the loss curve's
end points, so a folder found on disk explains itself."""

from __future__ import annotations

from pathlib import Path


def write_card(folder: Path, config: dict, data: dict, log: dict) -> Path:
    losses = log.get("loss_curve") or []
    lines = [
        "---", "library_name: transformers", "tags: [codeagent, sft, trl]", "---", "",
        f"# codeagent checkpoint (fine-tuned from `{config['base']}`)", "",
        f"Supervised fine-tuning with TRL's SFTTrainer ({'LoRA, merged' if config['lora'] else 'full'}, fp32), "
        "loss on the assistant turns only (their closing `<|im_end|>` included).", "",
        f"Load it anywhere in codeagent as `--model hf:{config['out']}`.", "", "## Data", "",
        f"- source: `{data['source']}` ({data['n_examples']} examples, {data['n_sequences']} sequences trained, "
        f"{data['n_truncated']} truncated to {config['max_length']} tokens, {data['n_dropped']} dropped)",
        f"- sha256 of the conversations: `{data['sha256']}`",
    ]
    sheet = data.get("datasheet")
    if sheet:
        runs = ", ".join(f"{r['run_id']} ({r['task_set']}:{r['split']}, {r['model']})" for r in sheet.get("runs", []))
        lines += [f"- from runs: {runs}", f"- verifier: {sheet.get('verifier')}; eval splits excluded: "
                  f"{', '.join(sheet.get('eval_sets', [])) or 'none'}"]
        if sheet.get("iteration") is not None:
            lines.append(f"- improve-loop iteration: {sheet['iteration']}")
    lines += ["", "## Hyper-parameters", "", "| field | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in config.items() if k not in ("data", "out", "progress")]
    lines += ["", "## Training", ""]
    if losses:
        lines += [f"- steps: {losses[-1][0]}; loss {losses[0][1]:.4f} (step {losses[0][0]}) -> "
                  f"{losses[-1][1]:.4f} (step {losses[-1][0]})"]
    lines += [f"- runtime: {log.get('train_runtime_s', 0):.0f} s", "- full curve: `training_log.json`"]
    path = Path(folder) / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
