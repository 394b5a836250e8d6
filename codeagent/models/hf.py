"""`hf:PATH_OR_ID`: any transformers causal LM, run locally (fp32 on CPU by default).

Generation goes through `batching.BatchEngine`: one decoding thread with continuous batching, so
concurrent `generate` calls from agent worker threads share forward passes and a sequence that
finishes stops costing compute.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Sequence

from .base import Completion, Message, ModelError, SamplingParams
from .stop import cut_at_stop

THREADS_ENV = "CODEAGENT_THREADS"
DEVICE_ENV = "CODEAGENT_DEVICE"


def default_device() -> str:
    """$CODEAGENT_DEVICE (e.g. `cuda`), else `cpu`: the project never needs an accelerator, but
    uses one when told to (the same setting reaches training, see `TrainConfig.device`)."""
    return os.environ.get(DEVICE_ENV) or "cpu"


class HFModel:
    """A local transformers model. Thread-safe: `generate` may be called from many threads."""

    def __init__(self, path: str | Path, *, spec: str | None = None, max_batch: int = 8,
                 threads: int | None = None, device: str | None = None):
        """
        path: a folder with config.json + weights + tokenizer, or a Hugging Face hub id.
        spec: what to record as this model's identity (default `hf:<path>`).
        max_batch: most sequences decoded together (requests beyond it wait for a free slot).
        threads: torch CPU threads of the decoding thread (default: $CODEAGENT_THREADS, else
            `default_threads()`).
        device: torch device for the weights, e.g. "cpu" or "cuda" (default: `default_device()`).
        """
        if max_batch < 1:
            raise ModelError(f"max_batch must be at least 1, got {max_batch}")
        threads = threads or env_threads() or default_threads()
        self.spec = spec or f"hf:{path}"
        self.tokenizer, self.model = _load(str(path), device or default_device())
        if not getattr(self.tokenizer, "chat_template", None):
            raise ModelError(f"model {path} has no chat template in its tokenizer; use an instruct/chat "
                             "model or add a chat_template to its tokenizer_config.json")
        eos = _eos_ids(self.tokenizer, self.model)
        if not eos:
            raise ModelError(f"model {path} defines no EOS token (tokenizer or generation_config)")
        from .batching import BatchEngine
        limit = getattr(self.model.config, "max_position_embeddings", None)
        self.engine = BatchEngine(self.model, eos_ids=eos, decode=self._decode, max_batch=max_batch,
                                  max_positions=limit, threads=threads)

    @property
    def max_batch(self) -> int:
        return self.engine.max_batch

    @max_batch.setter
    def max_batch(self, value: int) -> None:
        """Takes effect from the next admission; benchmarks use it to compare batch sizes."""
        if value < 1:
            raise ModelError(f"max_batch must be at least 1, got {value}")
        self.engine.max_batch = value

    def generate(self, conversations: Sequence[Sequence[Message]],
                 params: SamplingParams = SamplingParams()) -> list[list[Completion]]:
        import torch
        from .batching import Job

        _check_params(params)
        prompts = [self._encode(conv, i) for i, conv in enumerate(conversations)]
        limit = self.engine.max_positions
        for i, prompt in enumerate(prompts):
            if limit and len(prompt) >= limit:
                raise ModelError(f"conversation {i} is {len(prompt)} tokens long; {self.spec} holds at most "
                                 f"{limit} (prompt + reply): shorten it")
        seed = params.seed if params.seed is not None else secrets.randbits(62)
        jobs: list[list[Job]] = []
        for prompt in prompts:
            samples = []
            for k in range(params.n):
                gen = None
                if params.temperature > 0:
                    # Seeded per sample, not per batch: the same (seed, conversation, k) gives the
                    # same text whatever else is being decoded alongside it (up to float rounding
                    # differences between batch shapes, which the tests find do not change text).
                    gen = torch.Generator().manual_seed((seed * 1_000_003 + k) % (1 << 63))
                samples.append(Job(prompt=prompt, max_tokens=params.max_tokens, temperature=params.temperature,
                                   top_p=params.top_p, stop=tuple(params.stop), generator=gen))
            jobs.append(samples)
        self.engine.run([j for samples in jobs for j in samples])
        return [[self._completion(j, params.stop) for j in samples] for samples in jobs]

    def close(self) -> None:
        self.engine.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _encode(self, conversation: Sequence[Message], index: int) -> list[int]:
        for m, msg in enumerate(conversation):
            if not isinstance(msg, dict) or not isinstance(msg.get("role"), str) \
                    or not isinstance(msg.get("content"), str):
                raise ModelError(f"conversation {index}, message {m}: expected "
                                 f"{{'role': str, 'content': str}}, got {msg!r:.200}")
        if not conversation:
            raise ModelError(f"conversation {index} is empty; give at least one message")
        text = self.tokenizer.apply_chat_template(list(conversation), tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _decode(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def _completion(self, job, stop: Sequence[str]) -> Completion:
        tokens = [t for t in job.tokens if t not in self.engine.eos_ids]
        return Completion(text=cut_at_stop(self._decode(tokens), stop), prompt_tokens=len(job.prompt),
                          completion_tokens=len(job.tokens), finish_reason=job.finish_reason)


def _check_params(p: SamplingParams) -> None:
    if p.n < 1:
        raise ModelError(f"SamplingParams.n must be at least 1, got {p.n}")
    if p.max_tokens < 1:
        raise ModelError(f"SamplingParams.max_tokens must be at least 1, got {p.max_tokens}")
    if p.temperature < 0:
        raise ModelError(f"SamplingParams.temperature must be >= 0, got {p.temperature}")
    if not 0 < p.top_p <= 1:
        raise ModelError(f"SamplingParams.top_p must be in (0, 1], got {p.top_p}")
    if any(not s for s in p.stop):
        raise ModelError("SamplingParams.stop contains an empty string; remove it")


def default_threads() -> int:
    """Half the usable cores. Sandboxes run tests alongside generation, and torch's OpenMP threads
    spin-wait on each other: on an oversubscribed 2-core machine two threads decoded ~10x slower
    than one (measured), so leave the other half to the rest of the pipeline."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // 2)


def env_threads() -> int | None:
    """$CODEAGENT_THREADS as a thread count, or None when unset."""
    raw = os.environ.get(THREADS_ENV)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ModelError(f"${THREADS_ENV}={raw!r} is not a positive integer")
    return value


def _load(path: str, device: str):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    local = Path(path).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise ModelError(f"{local} is not a transformers model folder (no config.json)")
        source, kwargs = str(local), {"local_files_only": True}
    elif path.startswith((".", "/", "~")) or path.count("/") > 1:
        raise ModelError(f"model folder {path} does not exist")
    else:
        source, kwargs = path, {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **kwargs)
    except (OSError, ValueError) as e:
        if source is path:
            offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
            why = "HF_HUB_OFFLINE is set" if offline else "the hub is unreachable or has no such model"
            raise ModelError(f"cannot load hub model {path!r}: {why} ({type(e).__name__}: {str(e)[:200]}); "
                             "download it while online or pass a local folder as hf:/path/to/model") from e
        raise ModelError(f"cannot load model from {local}: {type(e).__name__}: {str(e)[:300]}") from e
    model.to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer, model


def _eos_ids(tokenizer, model) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), model.config):
        value = getattr(source, "eos_token_id", None) if source is not None else None
        if isinstance(value, int):
            ids.add(value)
        elif value:
            ids.update(int(v) for v in value)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids
