"""The one configuration of the training stage (what `codeagent train` and the improve loop pass)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from codeagent.errors import UserError
from codeagent.models.hf import default_device

DEFAULT_BASE = "smollm2-135m"
PRECISIONS = ("fp32", "bf16", "auto")


class TrainError(UserError):
    """Training data, base model or option the trainer cannot use; the message says the fix."""


@dataclass
class TrainConfig:
    data: Path
    """An export folder (`codeagent export --format hf`; an `openai` export's train.jsonl also works)."""
    out: Path
    """The checkpoint folder to write: a plain HF model folder, loadable as `hf:OUT`. Intermediate
    trainer checkpoints go to `OUT/checkpoints/`; a rerun with the same config resumes from them."""
    base: str = DEFAULT_BASE
    """Model to fine-tune: `smollm2-135m` (its converted HF folder) or `hf:PATH` (a local folder)."""
    lora: bool = False
    """Train a LoRA adapter (merged into the base weights on save) instead of every weight."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.05
    """Dropout on the LoRA branch."""
    epochs: float = 2.0
    """Passes over the data (ignored when max_steps is set)."""
    max_steps: int | None = None
    """Stop after this many optimizer steps (None: run `epochs` epochs)."""
    lr: float | None = None
    """Peak learning rate; None: 1e-5 for a full fine-tune, 2e-4 for LoRA (which needs more to move)."""
    batch_size: int = 4
    """Sequences per forward pass."""
    grad_accum: int = 1
    """Forward passes per optimizer step (effective batch = batch_size * grad_accum)."""
    max_length: int = 512
    """Tokens per sequence; longer examples are truncated (counted in training_log.json)."""
    warmup: float = 0.03
    """Warm-up: a fraction of the steps when < 1, else a number of steps."""
    scheduler: str = "cosine"
    """transformers learning-rate schedule name (linear, cosine, constant, …)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    seed: int = 0
    """Seeds model init of the LoRA weights, data order and dropout: the same config gives the same run."""
    save_steps: int = 50
    """Write a resumable trainer checkpoint every this many steps (and at the end)."""
    keep_checkpoints: bool = False
    """Keep `OUT/checkpoints/` after the final model is written (they hold optimizer state: large)."""
    precision: str = "fp32"
    """`fp32`; `bf16`: mixed precision (fp32 weights, bf16 autocast matmuls) — on CPUs with AMX or
    AVX-512 BF16 faster than fp32 (1.8x with activation checkpointing off, BENCHMARKS.md), and the
    usual setting on GPUs;
    `auto`: bf16 where the device computes it natively (`resolved_precision`), else fp32."""
    activation_checkpointing: bool = True
    """Recompute activations in the backward pass (TRL's default): less memory, ~1/3 more compute."""
    threads: int | None = None
    """torch CPU threads (None: torch's default)."""
    in_child: bool = False
    """Train in a child process, so the several GB it holds (a 0.5B model with its optimizer and
    activations) go back to the OS when it ends: the improve loop sets it, because it starts a vLLM
    server right after training, and a parent still holding that memory got OOM-killed there."""
    device: str = field(default_factory=default_device)
    """`cpu` (fp32, the supported setting) or `cuda`; default $CODEAGENT_DEVICE, else `cpu`."""
    progress: bool = True
    """Show the trainer's progress bar."""

    def __post_init__(self) -> None:
        self.data, self.out = Path(self.data), Path(self.out)
        for name in ("batch_size", "grad_accum", "max_length", "lora_r", "save_steps"):
            if getattr(self, name) < 1:
                raise TrainError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise TrainError(f"max_steps must be at least 1, got {self.max_steps}")
        if self.precision not in PRECISIONS:
            raise TrainError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.epochs <= 0:
            raise TrainError(f"epochs must be positive, got {self.epochs}")
        if self.lr is not None and self.lr <= 0:
            raise TrainError(f"lr must be positive, got {self.lr}")

    def resolved_precision(self) -> str:
        """`precision`, with `auto` decided for this machine's device."""
        if self.precision != "auto":
            return self.precision
        return "bf16" if native_bf16(self.device) else "fp32"

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (2e-4 if self.lora else 1e-5)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data"], d["out"] = str(self.data), str(self.out)
        d["learning_rate"] = self.learning_rate
        return d

    def identity(self) -> dict:
        """The fields that change the result: a checkpoint from a different identity is not resumed."""
        skip = {"out", "keep_checkpoints", "threads", "progress", "save_steps", "in_child"}
        d = self.to_dict()
        return {k: d[k] for k in sorted(d) if k not in skip}


def native_bf16(device: str) -> bool:
    """Whether `device` computes bf16 in hardware: a CUDA GPU that says so, or a CPU with AMX or
    AVX-512 BF16 (elsewhere CPU bf16 is emulated and slower than fp32)."""
    if device.startswith("cuda"):
        import torch
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
