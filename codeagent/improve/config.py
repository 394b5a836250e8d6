"""Configuration of the self-improvement loop, and its named presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from codeagent.errors import UserError
from codeagent.models import DEFAULT_MODEL


@dataclass(frozen=True)
class ImproveConfig:
    task_set: str = "pyfuncs"
    """Where training attempts come from (its `train` split)."""
    eval_set: str | None = None
    """Where the model is evaluated (its `test` split); None: the same set as `task_set`."""
    model: str = DEFAULT_MODEL
    """The base model (model_0)."""
    iterations: int = 2
    verifier: str = "generated"
    """Chooses training data: `generated` (no human label) or `heldout` (the oracle upper bound)."""
    agent: str = "rewrite"
    samples: int = 4
    """Attempts per train task per iteration."""
    temperature: float = 0.8
    max_tokens: int = 320
    train_tasks: int | None = None
    """Use only the first N train tasks (a family-balanced slice); None: all."""
    eval_tasks: int | None = None
    """Use only the first N eval tasks (a family-balanced slice); None: all."""
    eval_samples: int = 4
    """Sampled attempts per eval task for pass@k (0: greedy pass@1 only)."""
    max_per_task: int = 2
    """Training examples kept per task per export (rejection-sampling cap)."""
    continue_from_previous: bool = False
    """Train model_{i+1} from model_i on this iteration's data (default: from the base model on all data so far, as ReST-EM)."""
    lora: bool = True
    lr: float | None = None
    epochs: float = 3.0
    max_steps: int | None = None
    batch_size: int = 4
    max_length: int = 512
    gen_tests_samples: int = 4
    """Replies sampled per task when the model writes its own tests."""
    concurrency: int = 8
    backend: str = "auto"
    workers: int = 2
    seed: int = 0
    engine: str = "hf"
    """Sampling engine: `hf` (in-process batching, no extra dependency) or `vllm` (a vLLM server per
    model, the faster engine; needs .venv-vllm from setup.sh). Training is TRL either way."""

    def __post_init__(self) -> None:
        if self.verifier not in ("generated", "heldout"):
            raise UserError(f"--verifier must be generated or heldout, got {self.verifier!r}")
        if self.iterations < 1:
            raise UserError(f"--iterations must be at least 1, got {self.iterations}")
        if self.engine not in ("hf", "vllm"):
            raise UserError(f"--engine must be hf or vllm, got {self.engine!r}")
        if self.samples < 1:
            raise UserError(f"--samples must be at least 1, got {self.samples}")

    @property
    def eval_task_set(self) -> str:
        return self.eval_set or self.task_set

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


# `quick` finishes in about 15 minutes on 2 idle CPU cores with the embedded model; `full` is the
# whole pyfuncs set at GPU size (hours on CPU); `full-cpu` is the whole set sized for 2 CPU cores
# (3 iterations of both verifier modes side by side: ~110 min measured): fewer samples, a fixed
# LoRA step budget, greedy eval only, and wide batches (batch 32 decodes ~1.5x the tokens/s of
# batch 8 on CPU).
PRESETS: dict[str, dict] = {
    "quick": dict(iterations=2, samples=4, train_tasks=24, eval_tasks=24, eval_samples=0,
                  max_tokens=256, lora=True, max_steps=12, gen_tests_samples=2),
    "full": dict(iterations=3, samples=8, train_tasks=None, eval_tasks=None, eval_samples=8,
                 max_tokens=384, lora=False, epochs=3.0, gen_tests_samples=4),
    "full-cpu": dict(iterations=3, samples=4, train_tasks=None, eval_tasks=None, eval_samples=0,
                     max_tokens=256, lora=True, max_steps=24, gen_tests_samples=2, concurrency=32, workers=1),
    "ci": dict(iterations=2, samples=2, train_tasks=3, eval_tasks=3, eval_samples=2, max_tokens=128,
               lora=True, max_steps=2, gen_tests_samples=1, concurrency=6),
}


def preset_config(name: str | None, **overrides) -> ImproveConfig:
    if name is not None and name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    base = ImproveConfig(**(PRESETS[name] if name else {}))
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
