"""Configuration of the self-improvement loop, and its named presets.

`ImproveConfig` holds the loop's own choices plus one config per stage it runs — `run`
(`RunConfig`: how model_i attempts tasks; train and eval runs both start from it), `verify`
(`VerifyConfig`), `train` (`TrainConfig`) and `eval` — as templates: the loop fills in what
changes per iteration (model, task set, split, folders) with `dataclasses.replace`. Presets and
overrides address nested fields by dotted path (`"train.max_steps"`); a few command-line options
set several stage fields at once (`SHARED`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, is_dataclass, replace
from pathlib import Path

from codeagent.errors import UserError
from codeagent.models import DEFAULT_MODEL
from codeagent.run import RunConfig
from codeagent.train.config import TrainConfig
from codeagent.verify.stage import VerifyConfig

from .watch import WatchConfig


@dataclass(frozen=True)
class LoopEvalConfig:
    max_tasks: int | None = None
    """Use only the first N eval tasks (a family-balanced slice); None: all."""
    samples: int = 8
    """Sampled attempts per eval task for sampled pass@1 and pass@k, at the run's temperature (0: greedy
    pass@1 only). Sampled pass@1 over >= 8 samples is the loop's primary measure: a per-task rate,
    far less noisy than one greedy attempt."""
    ood_set: str | None = None
    """A second, out-of-distribution eval set (its `test` split, e.g. `humaneval`), evaluated beside
    the eval split and decontaminated from training data the same way; None: none."""
    ood_max_tasks: int | None = None
    """Use only the first N tasks of the out-of-distribution set; None: all."""
    ood_samples: int | None = None
    """Sampled attempts per out-of-distribution task; None: as `samples`; 0: greedy pass@1 only
    (all of HumanEval greedily costs about what 40 of its tasks x 8 samples cost)."""


def _run_template() -> RunConfig:
    # task_set, split and model are filled per stage by the loop
    return RunConfig(task_set="", samples=4, max_tokens=320, concurrency=8)


def _train_template() -> TrainConfig:
    # data, out and base are filled per iteration by the loop
    return TrainConfig(data=Path(), out=Path(), lora=True, epochs=3.0, in_child=True)


# Fields of the stage templates that the loop fills itself: not settable, not recorded.
FILLED_BY_LOOP = {"run": ("task_set", "split", "model", "only_task_ids"), "train": ("data", "out", "base"),
                  "verify": ("verifiers", "model")}


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
    test_model: str | None = None
    """Model spec that writes the generated tests (a stronger or separate test writer); None: model_i,
    the model being trained."""
    max_per_task: int = 2
    """Training examples kept per task per export (rejection-sampling cap)."""
    continue_from_previous: bool = False
    """Train model_{i+1} from model_i on this iteration's data (default: from the base model on all data so far, as ReST-EM)."""
    run: RunConfig = field(default_factory=_run_template)
    """Every run of the loop; `run.max_tasks` slices the train split (the eval split: `eval.max_tasks`)."""
    verify: VerifyConfig = field(default_factory=lambda: VerifyConfig(concurrency=8))
    """Verification of train runs (and, held-out only, of eval runs); `verify.samples`: replies per task
    when the model writes its own tests."""
    train: TrainConfig = field(default_factory=_train_template)
    eval: LoopEvalConfig = field(default_factory=LoopEvalConfig)
    engine: str = "hf"
    """Sampling engine: `hf` (in-process batching, no extra dependency) or `vllm` (a vLLM server per
    model, the faster engine; needs .venv-vllm from setup.sh). Training is TRL either way."""
    watch: WatchConfig = field(default_factory=WatchConfig)
    """The collapse watch: when the loop stops or discards a model, and why (`watch.py`)."""

    def __post_init__(self) -> None:
        if self.verifier not in ("generated", "heldout"):
            raise UserError(f"--verifier must be generated or heldout, got {self.verifier!r}")
        if self.iterations < 1:
            raise UserError(f"--iterations must be at least 1, got {self.iterations}")
        if self.engine not in ("hf", "vllm"):
            raise UserError(f"--engine must be hf or vllm, got {self.engine!r}")
        if self.run.samples < 1:
            raise UserError(f"--samples must be at least 1, got {self.run.samples}")

    @property
    def eval_task_set(self) -> str:
        return self.eval_set or self.task_set

    def to_dict(self) -> dict:
        """The config as recorded in the loop folder (fields the loop fills per stage left out)."""
        d = _jsonable(asdict(self))
        for stage, names in FILLED_BY_LOOP.items():
            for name in names:
                d[stage].pop(name, None)
        return d


def config_from_dict(d: dict) -> ImproveConfig:
    """An `ImproveConfig` from its recorded form (`to_dict`), or from the flat form loop folders
    were recorded in before the stage configs were nested. Fields this version does not know
    are ignored (a report can still be drawn)."""
    values: dict = {}
    stages = {f.name for f in fields(ImproveConfig) if is_dataclass(getattr(ImproveConfig(), f.name))}
    template = ImproveConfig()
    for key, value in d.items():
        if key in stages and isinstance(value, dict):
            known = {f.name: f for f in fields(getattr(template, key))}
            for name, v in value.items():
                if name in known and name not in FILLED_BY_LOOP.get(key, ()):
                    current = getattr(getattr(template, key), name)
                    values[f"{key}.{name}"] = type(current)(**v) if is_dataclass(current) and isinstance(v, dict) else v
        elif key in SHARED:
            for path in SHARED[key]:
                values[path] = value
        elif key in {f.name for f in fields(ImproveConfig)}:
            values[key] = value
    return with_values(template, values)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


# Command-line options that set one value in several places.
SHARED: dict[str, tuple[str, ...]] = {
    "samples": ("run.samples",),
    "temperature": ("run.temperature",),
    "max_tokens": ("run.max_tokens",),
    "agent": ("run.agent",),
    "train_tasks": ("run.max_tasks",),
    "eval_tasks": ("eval.max_tasks",),
    "min_tier": ("run.min_tier",),
    "eval_samples": ("eval.samples",),
    "ood_eval": ("eval.ood_set",),
    "ood_eval_tasks": ("eval.ood_max_tasks",),
    "ood_eval_samples": ("eval.ood_samples",),
    "concurrency": ("run.concurrency", "verify.concurrency"),
    "backend": ("run.backend", "verify.backend"),
    "workers": ("verify.workers",),
    "executor": ("run.executor", "verify.executor"),
    "executor_options": ("run.executor_options", "verify.executor_options"),
    "gen_tests_samples": ("verify.samples",),
    "mutation": ("verify.mutation",),
    "min_cluster_size": ("verify.min_cluster_size",),
    "min_tests_passed": ("verify.min_tests_passed",),
    "seed": ("run.seed", "train.seed"),
    "on_collapse": ("watch.action",),
    "min_distinct": ("watch.min_distinct_per_task",),
    "min_distance_ratio": ("watch.min_distance_ratio",),
    "lora": ("train.lora",),
    "lr": ("train.lr",),
    "epochs": ("train.epochs",),
    "max_steps": ("train.max_steps",),
    "batch_size": ("train.batch_size",),
    "max_length": ("train.max_length",),
}

# `quick` (README command 1) is the capable embedded model on vLLM where it has room to improve:
# Qwen2.5-Coder-0.5B solves most of pyfuncs' tiers 1-2 greedily, so it trains and is evaluated on
# tiers 3-4 only; one iteration, measured at ~13 minutes on 2 idle CPU cores (10 tasks, 5 LoRA steps).
# `quick-smollm2` is the former quick run (the 135M model on the dependency-light hf engine,
# ~15 minutes). `full` is the
# whole pyfuncs set at GPU size (hours on CPU); `full-cpu` is the whole set sized for 2 CPU cores
# (3 iterations of both verifier modes side by side: ~110 min measured): fewer samples, a fixed
# LoRA step budget, greedy eval only, and wide batches (batch 32 decodes ~1.5x the tokens/s of
# batch 8 on CPU).
PRESETS: dict[str, dict] = {
    "quick": {"model": "qwen2.5-coder-0.5b", "engine": "vllm", "iterations": 1, "run.min_tier": 3,
              "run.samples": 4, "run.max_tasks": 10, "eval.max_tasks": None, "eval.samples": 0,
              "run.max_tokens": 384, "train.lora": True, "train.max_steps": 5, "train.precision": "auto",
              "train.activation_checkpointing": False, "verify.samples": 2, "run.concurrency": 48,
              "verify.concurrency": 48},
    "quick-smollm2": {"iterations": 2, "run.samples": 4, "run.max_tasks": 24, "eval.max_tasks": 24, "eval.samples": 0,
              "run.max_tokens": 256, "train.lora": True, "train.max_steps": 12, "verify.samples": 2},
    "full": {"iterations": 3, "run.samples": 8, "run.max_tasks": None, "eval.max_tasks": None, "eval.samples": 8,
             "run.max_tokens": 384, "train.lora": False, "train.epochs": 3.0, "verify.samples": 4},
    "full-cpu": {"iterations": 3, "run.samples": 4, "run.max_tasks": None, "eval.max_tasks": None,
                 "eval.samples": 0, "run.max_tokens": 256, "train.lora": True, "train.max_steps": 24,
                 "verify.samples": 2, "run.concurrency": 32, "verify.concurrency": 32, "verify.workers": 1},
    "ci": {"iterations": 2, "run.samples": 2, "run.max_tasks": 3, "eval.max_tasks": 3, "eval.samples": 2,
           "run.max_tokens": 128, "train.lora": True, "train.max_steps": 2, "train.in_child": False, "verify.samples": 1,
           "run.concurrency": 6, "verify.concurrency": 6},
}


def preset_config(name: str | None, **overrides) -> ImproveConfig:
    """The preset's config with `overrides` applied (None values keep the preset's). Keys are
    top-level fields, dotted stage fields (pass them as **{"train.lr": 1e-4}) or `SHARED` options."""
    if name is not None and name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    values = dict(PRESETS[name]) if name else {}
    for key, value in overrides.items():
        if value is None:
            continue
        for path in SHARED.get(key, (key,)):
            values[path] = value
    return with_values(ImproveConfig(), values)


def with_values(cfg: ImproveConfig, values: dict) -> ImproveConfig:
    """`cfg` with dotted-path fields set (unknown paths fail, naming the known ones)."""
    top: dict = {}
    nested: dict[str, dict] = {}
    names = {f.name for f in fields(ImproveConfig)}
    for path, value in values.items():
        stage, _, name = path.partition(".")
        if stage not in names:
            raise UserError(f"unknown improve option {path!r}; known: {', '.join(sorted(names | set(SHARED)))}")
        if not name:
            top[stage] = value
            continue
        template = getattr(cfg, stage)
        settable = {f.name for f in fields(template)} - set(FILLED_BY_LOOP.get(stage, ()))
        if not is_dataclass(template) or name not in settable:
            raise UserError(f"unknown improve option {path!r}; {stage}.* fields: {', '.join(sorted(settable))}")
        nested.setdefault(stage, {})[name] = value
    for stage, changes in nested.items():
        top[stage] = replace(getattr(cfg, stage), **changes)
    return replace(cfg, **top)
