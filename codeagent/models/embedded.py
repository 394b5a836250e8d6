"""What every embedded model shares: the cache, and the one-time GGUF -> Hugging Face conversion.

An embedded model ships its weights as a GGUF file inside pip packages (never imported: only
their data files are read). transformers can load a GGUF directly, but slowly and as a model that
cannot be fine-tuned, so each is converted once into a plain HF folder under the cache, which the
`hf` backend, `codeagent train` and the `vllm` backend all use.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from .base import ModelError


def cache_root() -> Path:
    """Where converted models live: $CODEAGENT_CACHE/models or ~/.cache/codeagent/models."""
    base = os.environ.get("CODEAGENT_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "codeagent") / "models"


def package_folder(package: str, install_hint: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise ModelError(f"package {package} is not installed: {install_hint}")
    folders = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    return Path(folders[0])


def is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) \
        and (folder / "tokenizer_config.json").is_file()


def build_once(target: Path, make: Callable[[Path], None], done: Callable[[Path], bool] = is_complete) -> Path:
    """`target`, made by `make(tmp)` into a temporary sibling renamed into place, unless `done`.

    An interrupted run never leaves a half-written cache entry, and two processes racing to build
    it both end with the finished one. `make` may write a file or a folder at `tmp`.
    """
    if done(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    tmp = scratch / target.name
    try:
        make(tmp)
        if tmp.is_dir():
            tmp.chmod(0o755)
        if target.is_dir():  # a leftover from an old, incomplete layout
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not done(target):  # another process won the race only if it finished
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def gguf_to_hf(gguf: Path, out: Path, install_hint: str) -> None:
    """Convert a GGUF file into an fp32 HF folder at `out` (safetensors + tokenizer)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True,
                                                     dtype=torch.float32)
    except Exception as e:  # a corrupt file or a transformers without GGUF support: say which
        raise ModelError(f"cannot read {gguf} with transformers ({type(e).__name__}: {e}); "
                         f"reinstall the weights ({install_hint} --force-reinstall) or check that "
                         "the gguf package is installed") from e
    # save_pretrained refuses a model that still carries the GGUF quantization config.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
