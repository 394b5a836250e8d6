"""The training stage: supervised fine-tuning of the next model on exported data (TRL SFT, full
or LoRA, fp32 on CPU). `train_sft(TrainConfig(...)) -> Path` is the one entry point."""

from __future__ import annotations

from .config import DEFAULT_BASE, TrainConfig, TrainError


def train_sft(config: TrainConfig):
    """See `codeagent.train.sft.train_sft` (imported lazily: it pulls in torch and TRL)."""
    from .sft import train_sft as _train_sft
    return _train_sft(config)


__all__ = ["DEFAULT_BASE", "TrainConfig", "TrainError", "train_sft"]
