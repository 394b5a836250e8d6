"""Supervised fine-tuning with TRL's SFTTrainer: full or LoRA (merged on save), fp32 on CPU.

`train_sft(config)` writes a plain Hugging Face folder at `config.out` (safetensors, tokenizer
with its chat template, README.md card, training_log.json) that `hf:OUT` loads. Trainer
checkpoints land in `OUT/checkpoints/` every `save_steps`; a rerun with the same config resumes
from the last one. The final files are written to a staging folder and renamed into place,
`training_log.json` last: it marks the folder complete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from pathlib import Path

from .card import write_card
from .config import TrainConfig, TrainError
from .data import load_training_data, tokenize_conversation

CHECKPOINTS = "checkpoints"
LOG_FILE = "training_log.json"
IDENTITY_FILE = "codeagent_train_config.json"
STAGING = ".final-staging"


def resolve_base(spec: str) -> Path:
    """The HF folder a base-model spec names (only local, trainable folders)."""
    from codeagent.models import ModelError, local_folder
    try:
        return local_folder(spec)
    except ModelError as e:
        raise TrainError(f"--base {e}") from None


def is_complete(folder: Path) -> bool:
    return (Path(folder) / LOG_FILE).is_file() and (Path(folder) / "config.json").is_file()


def train_sft(config: TrainConfig) -> Path:
    """Fine-tune `config.base` on `config.data`; returns `config.out` (already trained: returned as is)."""
    if config.in_child:
        import multiprocessing
        with multiprocessing.get_context("spawn").Pool(1, initializer=_die_with_parent) as pool:
            return pool.apply(train_sft, (dataclasses.replace(config, in_child=False),))
    out = config.out
    data = load_training_data(config.data)
    identity = {**config.identity(), "data_sha256": data.sha256}
    if is_complete(out):
        done = json.loads((out / LOG_FILE).read_text(encoding="utf-8")).get("identity") or {}
        # A field the finished model's log predates counts as its default (which kept the old behaviour).
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}
        if {**{k: defaults.get(k) for k in identity if k not in done}, **done} != identity:
            raise TrainError(f"{out} already holds a model trained with another config or data; "
                             "pass a new --out, or delete that folder to retrain")
        return out
    base = resolve_base(config.base)

    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from transformers.trainer_utils import get_last_checkpoint
    from trl import SFTConfig, SFTTrainer

    # $CODEAGENT_THREADS bounds training as it bounds decoding: two loops sharing a CPU (one per
    # verifier mode) must not each spin torch's default all-core thread pool.
    from codeagent.models.hf import env_threads
    threads = config.threads or env_threads()
    if threads:
        torch.set_num_threads(threads)
    set_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    if not getattr(tokenizer, "chat_template", None):
        raise TrainError(f"base model {base} has no chat template; fine-tune an instruct/chat model")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = [r for r in (tokenize_conversation(tokenizer, m, config.max_length) for m in data.conversations) if r]
    if not rows:
        raise TrainError(f"every example of {data.source} lost its assistant turn to truncation at "
                         f"--max-length {config.max_length}; raise it")
    stats = {"source": str(data.source), "sha256": data.sha256, "n_examples": len(data.conversations),
             "n_sequences": len(rows), "n_truncated": sum(r["truncated"] for r in rows),
             "n_dropped": len(data.conversations) - len(rows)}
    dataset = Dataset.from_list([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])

    ckpt_dir = out / CHECKPOINTS
    _claim_checkpoints(ckpt_dir, identity)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    peft_config = None
    if config.lora:
        from peft import LoraConfig
        peft_config = LoraConfig(r=config.lora_r, lora_alpha=config.lora_alpha, lora_dropout=config.lora_dropout,
                                 target_modules="all-linear", task_type="CAUSAL_LM")
    args = SFTConfig(
        output_dir=str(ckpt_dir), num_train_epochs=config.epochs, max_steps=config.max_steps or -1,
        per_device_train_batch_size=config.batch_size, gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.learning_rate, lr_scheduler_type=config.scheduler, warmup_steps=config.warmup,
        weight_decay=config.weight_decay, max_length=config.max_length, packing=False,
        seed=config.seed, data_seed=config.seed, logging_steps=1, logging_first_step=True,
        save_strategy="steps", save_steps=config.save_steps, save_total_limit=1, report_to="none",
        use_cpu=config.device == "cpu", bf16=config.resolved_precision() == "bf16", fp16=False, dataloader_num_workers=0,
        disable_tqdm=not config.progress, **_checkpointing_arg(SFTConfig, config.activation_checkpointing),
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=peft_config)
    last = get_last_checkpoint(str(ckpt_dir))
    started = time.monotonic()
    finished = _finished_state(last)
    if finished is None:
        train_loss = trainer.train(resume_from_checkpoint=last).training_loss
        trained = trainer.model.merge_and_unload() if config.lora else trainer.model
        history, global_step = trainer.state.log_history, trainer.state.global_step
    else:
        # Training ended but the final save did not: resuming would run one step too many
        # (the trainer steps before it checks max_steps), so take the last checkpoint as is.
        trained = _load_checkpoint(last, model, config.lora)
        history, global_step = finished["log_history"], finished["global_step"]
        train_loss = next((h["train_loss"] for h in reversed(history) if "train_loss" in h), None)
    log = {"identity": identity, "config": config.to_dict(), "precision": config.resolved_precision(),
           "base_folder": str(base), "data": stats,
           "resumed_from": last, "global_step": global_step,
           "train_runtime_s": time.monotonic() - started, "train_loss": train_loss,
           "loss_curve": [[h["step"], h["loss"]] for h in history if "loss" in h],
           "log_history": history}
    _write_final(out, trained, tokenizer, config, stats, log)
    if not config.keep_checkpoints:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    return out


def _die_with_parent() -> None:
    """A training child outlives no killed parent (PR_SET_PDEATHSIG: SIGTERM when it goes)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)
    except OSError:
        pass


def _checkpointing_arg(config_class, on: bool) -> dict:
    """TRL turns activation (gradient) checkpointing on by default; newer transformers renamed
    the setting and warn on every run about the old name TRL still sets. Say it by the new name
    where it exists (and turn the old one off with it)."""
    import dataclasses
    names = {f.name for f in dataclasses.fields(config_class)}
    if "activation_checkpointing" in names:
        return {"activation_checkpointing": on, **({} if on else {"gradient_checkpointing": False})}
    return {} if on else {"gradient_checkpointing": False}


def _finished_state(checkpoint: str | None) -> dict | None:
    """The trainer state of `checkpoint` when it is the run's last step (None otherwise)."""
    if checkpoint is None:
        return None
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text(encoding="utf-8"))
    return state if state.get("max_steps") and state["global_step"] >= state["max_steps"] else None


def _load_checkpoint(checkpoint: str, base_model, lora: bool):
    if lora:
        from peft import PeftModel
        return PeftModel.from_pretrained(base_model, checkpoint).merge_and_unload()
    import torch
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)


def _claim_checkpoints(ckpt_dir: Path, identity: dict) -> None:
    """Checkpoints are resumed only by the config that wrote them."""
    marker = ckpt_dir / IDENTITY_FILE
    if marker.is_file():
        if json.loads(marker.read_text(encoding="utf-8")) != identity:
            raise TrainError(f"{ckpt_dir} holds checkpoints of another config or data set; pass a new --out, "
                             f"or delete {ckpt_dir} to start over")
        return
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(identity, indent=2, sort_keys=True), encoding="utf-8")


def _write_final(out: Path, model, tokenizer, config: TrainConfig, stats: dict, log: dict) -> None:
    from codeagent.export.datasheet import read_datasheet

    staging = out / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(str(staging), safe_serialization=True)
    tokenizer.save_pretrained(str(staging))
    sheet = read_datasheet(config.data if config.data.is_dir() else config.data.parent)
    write_card(staging, config.to_dict(), {**stats, "datasheet": sheet}, log)
    (staging / LOG_FILE).write_text(json.dumps(log, indent=2, default=str), encoding="utf-8")
    (out / LOG_FILE).unlink(missing_ok=True)
    names = sorted(p.name for p in staging.iterdir())
    names = [n for n in names if n not in ("config.json", LOG_FILE)] + ["config.json", LOG_FILE]
    for name in names:  # config.json makes it loadable, training_log.json marks it complete
        os.replace(staging / name, out / name)
    staging.rmdir()
