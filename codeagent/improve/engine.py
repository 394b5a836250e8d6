"""Which inference engine the loop samples with: `hf` (in-process batching) or `vllm` (a server).

The loop names models by spec (`smollm2-135m`, `hf:iter_0/model`); `on_engine` turns such a spec
into the one each stage loads. With vLLM, `Serving` keeps one server up for a model while every
stage of that model runs (eval of a new checkpoint, then the next iteration's agent run and its
generated tests): their own `load_model` calls share it instead of each starting one. A newly
trained checkpoint is a new folder, so it gets a new server (one start per iteration; trained
LoRA adapters are merged on save, so vLLM's LoRA serving does not apply). Training stays with TRL
and runs with the server stopped, so the two never compete for memory.
"""

from __future__ import annotations

from pathlib import Path

from codeagent.errors import UserError

ENGINES = ("hf", "vllm")


def on_engine(spec: str, engine: str) -> str:
    """The spec that runs `spec` on `engine` (specs of other backends are left as they are)."""
    if engine not in ENGINES:
        raise UserError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "hf":
        return spec
    from codeagent.models import EMBEDDED
    if spec in EMBEDDED:
        return f"vllm:{spec}"
    prefix, sep, arg = spec.partition(":")
    if sep and prefix == "hf" and Path(arg).expanduser().is_dir():
        return f"vllm:{arg}"
    return spec  # already vllm:, or a remote/scripted model: nothing to serve


class Serving:
    """At most one model served at a time: `use(spec)` starts (or keeps) the server for `spec` and
    returns the spec the stages load; `release()` stops it (before training, and at the end)."""

    def __init__(self, engine: str, log_dir: Path):
        on_engine("", engine)  # validates the engine name
        self.engine, self.log_dir = engine, Path(log_dir)
        self.spec: str | None = None
        self._model = None

    def use(self, spec: str) -> str:
        wanted = on_engine(spec, self.engine)
        if wanted != self.spec:
            self.release()
            if wanted.startswith("vllm:"):
                from codeagent.models import load_model
                self._model = load_model(wanted, log_dir=self.log_dir)
            self.spec = wanted
        return wanted

    def release(self) -> None:
        if self._model is not None:
            self._model.close()
        self._model, self.spec = None, None

    def __enter__(self) -> "Serving":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
