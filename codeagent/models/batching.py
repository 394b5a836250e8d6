"""Continuous batching for a local causal LM: one decoding thread, many callers.

Callers (agent worker threads) submit `Job`s, one per sample; a single engine thread keeps up to
`max_batch` of them in one KV-cached batch. A sequence that ends (EOS, stop string, token limit)
leaves the batch at once and a waiting job takes its slot, so a reply that loops to the token
limit never holds the others back, and requests from different threads share forward passes.

The batch is left-aligned in the cache: every row's real tokens end at the last column, padding
is on the left and masked out, and each row carries its own position counter. New rows are
prefilled on their own and spliced in by left-padding whichever side is shorter.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import torch

_RUNNING: "weakref.WeakSet[BatchEngine]" = weakref.WeakSet()


def _close_running() -> None:
    # A daemon decoding thread still inside torch when the interpreter tears down aborts the
    # process ("terminate called without an active exception"); stop them first.
    for engine in list(_RUNNING):
        engine.close()


_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_close_running)
        _atexit_registered = True


IDLE_EXIT_S = 30.0
"""The decoding thread exits after this long without work (and restarts on the next request),
so a model dropped without close() does not keep a thread, and its memory, alive."""

DEAD_ROWS_FRACTION = 8
"""Finished rows are dropped once they are 1/8 of the batch; arrivals are admitted once 1/8 of
`max_batch` is free (on CPU at batch 8 both mean at once)."""

ADMIT_WAIT_STEPS = 16
"""Most decoding steps a queued job waits for more slots to free up."""

PREFILL_TOKENS = 8192
"""At most this many (padded) prompt tokens per prefill forward pass, to bound memory."""


@dataclass(eq=False)
class Job:
    """One sample to generate. Jobs with the same `prompt` object share one prefill."""

    prompt: list[int]
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    generator: torch.Generator | None = None
    """Per-sample RNG, so a seeded sample does not depend on what else is in the batch."""
    tokens: list[int] = field(default_factory=list)
    finish_reason: str = ""
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class EngineStats:
    """Counters for benchmarks: useful tokens vs the rows that were actually computed."""

    decode_steps: int = 0
    row_steps: int = 0
    prefill_tokens: int = 0
    generated_tokens: int = 0


class BatchEngine:
    """Runs `Job`s on `model` with continuous batching. Thread-safe; see the module docstring."""

    def __init__(self, model, *, eos_ids: set[int], decode: Callable[[list[int]], str],
                 max_batch: int = 8, max_positions: int | None = None, threads: int | None = None):
        self.model = model
        self.eos_ids = set(eos_ids)
        self.decode = decode
        self.max_batch = max_batch
        self.max_positions = max_positions
        self.threads = threads
        self.stats = EngineStats()
        self._device = next(model.parameters()).device
        self._cache_kw = _cache_kwarg(model)
        self._vocab_size = _vocab_size(model)
        self._stop_enders: dict[tuple[str, ...], frozenset[int] | None] = {}
        self._queue: deque[Job] = deque()
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        # The batch: rows[i] is the job in cache row i.
        self._rows: list[Job] = []
        self._live: list[bool] = []  # False: the row's job has finished (a dead row, see _step)
        self._waited = 0  # steps the queue has waited for admission
        self._cache = None
        self._mask: torch.Tensor | None = None  # [B, T] 1 = real token
        self._pos: torch.Tensor | None = None  # [B] position of the next token
        self._last: torch.Tensor | None = None  # [B] last sampled token, the next input

    # -- caller side -------------------------------------------------------------------------

    def run(self, jobs: list[Job]) -> None:
        """Queue `jobs` and block until all are finished; re-raise an engine failure."""
        with self._cv:
            if self._closed:
                raise RuntimeError("the model was closed")
            self._queue.extend(jobs)
            if self._thread is None:
                _register_atexit()
                _RUNNING.add(self)
                self._thread = threading.Thread(target=self._loop, name="codeagent-decode", daemon=True)
                self._thread.start()
            self._cv.notify()
        for job in jobs:
            job.done.wait()
        for job in jobs:
            if job.error is not None:
                raise job.error

    def close(self) -> None:
        """Stop the engine thread once the current work is done (pending jobs still run)."""
        with self._cv:
            self._closed = True
            self._cv.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        _RUNNING.discard(self)

    # -- engine thread -----------------------------------------------------------------------

    def _loop(self) -> None:
        if self.threads:
            torch.set_num_threads(self.threads)  # per-thread for OpenMP: set it where the work runs
        while True:
            with self._cv:
                while not self._queue and not self._rows and not self._closed:
                    if not self._cv.wait(timeout=IDLE_EXIT_S) and not self._queue:
                        self._thread = None
                        _RUNNING.discard(self)
                        return
                if self._closed and not self._queue and not self._rows:
                    return
                admitted = self._admissions()
            try:
                with torch.inference_mode():
                    if admitted:
                        self._admit(admitted)
                    if self._rows:
                        self._step()
            except BaseException as e:  # fail the waiting callers rather than hang them
                for job in admitted + [j for j, live in zip(self._rows, self._live) if live]:
                    job.error = e
                    job.done.set()
                self._rows, self._live, self._cache = [], [], None
                if not isinstance(e, Exception):
                    raise

    def _admissions(self) -> list[Job]:
        """Queued jobs to splice in now (called with the lock held). Each splice copies the KV
        cache, so with many rows running, arrivals wait until a worthwhile number of slots is free
        (an eighth of `max_batch`), or at most `ADMIT_WAIT_STEPS` steps."""
        live = sum(self._live)
        free = self.max_batch - live
        if not self._queue or free <= 0:
            self._waited = 0
            return []
        if live and free < max(1, self.max_batch // DEAD_ROWS_FRACTION) and self._waited < ADMIT_WAIT_STEPS:
            self._waited += 1
            return []
        self._waited = 0
        return [self._queue.popleft() for _ in range(min(free, len(self._queue)))]

    def _forward(self, input_ids, mask, positions, cache, keep: int | None = None):
        kwargs = {self._cache_kw: cache}
        if keep is not None:
            kwargs["logits_to_keep"] = keep
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions,
                         use_cache=True, **kwargs)
        return out.logits[:, -1, :].float()

    def _admit(self, jobs: list[Job]) -> None:
        """Prefill the prompts of `jobs` (shared prompts once) and splice them into the batch."""
        groups: dict[int, list[Job]] = {}
        for job in jobs:
            groups.setdefault(id(job.prompt), []).append(job)
        prompts = sorted(groups.values(), key=lambda g: len(g[0].prompt))
        chunk: list[list[Job]] = []
        for group in prompts:
            if chunk and len(group[0].prompt) * (len(chunk) + 1) > PREFILL_TOKENS:
                self._prefill(chunk)
                chunk = []
            chunk.append(group)
        if chunk:
            self._prefill(chunk)

    def _prefill(self, groups: list[list[Job]]) -> None:
        from transformers import DynamicCache

        width = max(len(g[0].prompt) for g in groups)
        ids = torch.full((len(groups), width), 0, dtype=torch.long)
        mask = torch.zeros((len(groups), width), dtype=torch.long)
        for i, g in enumerate(groups):
            p = g[0].prompt
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            mask[i, width - len(p):] = 1
        positions = (mask.cumsum(1) - 1).clamp(min=0)
        ids, mask, positions = (t.to(self._device) for t in (ids, mask, positions))
        cache = DynamicCache()
        logits = self._forward(ids, mask, positions, cache, keep=1)
        self.stats.prefill_tokens += int(mask.sum())

        # One row per job: repeat each prompt's row for its samples.
        index = [i for i, g in enumerate(groups) for _ in g]
        jobs = [job for g in groups for job in g]
        sel = torch.tensor(index, device=self._device)
        first = sample(logits[sel], jobs)
        alive = [r for r, (job, tok) in enumerate(zip(jobs, first)) if not self._push(job, tok)]
        if not alive:
            return
        keep = sel[torch.tensor(alive, device=self._device)]
        kv = [(k[keep], v[keep]) for k, v in _layers(cache)]
        new_mask = mask[keep]
        new_pos = positions[keep, -1] + 1
        new_last = torch.tensor([first[r] for r in alive], device=self._device)
        self._merge([jobs[r] for r in alive], kv, new_mask, new_pos, new_last)

    def _merge(self, jobs, kv, mask, pos, last) -> None:
        if self._n_dead():
            self._compact()
        if not self._rows:
            from transformers import DynamicCache
            self._cache = DynamicCache()
            _set_layers(self._cache, kv)
            self._rows, self._mask, self._pos, self._last = list(jobs), mask, pos, last
            self._live = [True] * len(jobs)
            return
        old = _layers(self._cache)
        t_old, t_new = self._mask.shape[1], mask.shape[1]
        width = max(t_old, t_new)
        merged = [(torch.cat([_lpad(k0, width), _lpad(k1, width)]), torch.cat([_lpad(v0, width), _lpad(v1, width)]))
                  for (k0, v0), (k1, v1) in zip(old, kv)]
        _set_layers(self._cache, merged)
        self._mask = torch.cat([_lpad_mask(self._mask, width), _lpad_mask(mask, width)])
        self._pos = torch.cat([self._pos, pos])
        self._last = torch.cat([self._last, last])
        self._rows.extend(jobs)
        self._live.extend([True] * len(jobs))

    def _step(self) -> None:
        """One decoding step for every row. A row whose job finished stays in the batch, dead,
        until enough have piled up (`_compact_due`): dropping rows copies the whole KV cache,
        which at hundreds of rows costs more than decoding a few dead ones."""
        ones = torch.ones((len(self._rows), 1), dtype=self._mask.dtype, device=self._device)
        mask = torch.cat([self._mask, ones], dim=1)
        logits = self._forward(self._last[:, None], mask, self._pos[:, None], self._cache)
        self.stats.decode_steps += 1
        self.stats.row_steps += len(self._rows)
        tokens = sample(logits, self._rows)
        for r, (job, tok) in enumerate(zip(self._rows, tokens)):
            if self._live[r] and self._push(job, tok):
                self._live[r] = False
        self._mask, self._pos = mask, self._pos + 1
        if self.max_positions:  # dead rows run on past the limit until compaction
            self._pos.clamp_(max=self.max_positions - 1)
        self._last = torch.tensor(tokens, device=self._device)
        if self._compact_due():
            self._compact()

    def _n_dead(self) -> int:
        return len(self._live) - sum(self._live)

    def _compact_due(self) -> bool:
        dead = self._n_dead()
        return dead > 0 and dead >= max(1, len(self._rows) // DEAD_ROWS_FRACTION)

    def _compact(self) -> None:
        """Drop dead rows, and columns that are padding for every remaining row."""
        keep = [r for r, live in enumerate(self._live) if live]
        if not keep:
            self._rows, self._live, self._cache = [], [], None
            return
        idx = torch.tensor(keep, device=self._device)
        self._rows = [self._rows[r] for r in keep]
        self._live = [True] * len(keep)
        self._mask, self._pos, self._last = self._mask[idx], self._pos[idx], self._last[idx]
        kv = [(k[idx], v[idx]) for k, v in _layers(self._cache)]
        start = int(self._mask.any(dim=0).int().argmax())
        if start:
            self._mask = self._mask[:, start:]
            kv = [(k[:, :, start:], v[:, :, start:]) for k, v in kv]
        _set_layers(self._cache, kv)

    def _push(self, job: Job, token: int) -> bool:
        """Record `token` for `job`; True (and the job is released) when it has finished."""
        self.stats.generated_tokens += 1
        job.tokens.append(token)
        if token in self.eos_ids:
            job.finish_reason = "stop"
        elif job.stop and self._may_end_stop(job.stop, token) and self._hit_stop(job):
            job.finish_reason = "stop"
        elif len(job.tokens) >= job.max_tokens or (
                self.max_positions and len(job.prompt) + len(job.tokens) >= self.max_positions):
            job.finish_reason = "length"
        else:
            return False
        job.done.set()
        return True

    def _may_end_stop(self, stop: tuple[str, ...], token: int) -> bool:
        """False when `token` cannot complete any of `stop`, without decoding anything: checking
        every row's tail on every step cost more than the forward pass at large batches."""
        if stop not in self._stop_enders:
            self._stop_enders[stop] = _stop_enders(stop, self.decode, self._vocab_size)
        enders = self._stop_enders[stop]
        return enders is None or token in enders

    def _hit_stop(self, job: Job) -> bool:
        # A stop string is completed by the newest token, so only the tail needs decoding; every
        # token decodes to at least one character except partial UTF-8, hence the margin.
        tail = max(len(s) for s in job.stop) + 3
        text = self.decode(job.tokens[-tail:])
        return any(s in text for s in job.stop)


def sample(logits: torch.Tensor, jobs: list[Job]) -> list[int]:
    """One token per row of `logits` ([rows, vocab]) for `jobs`: one batched pass, one device sync.

    Sampled rows use inverse-CDF sampling over the temperature-scaled, top-p-truncated
    distribution, driven by one uniform number drawn from each job's own generator, so a
    seeded sample does not depend on its neighbours; per-row softmax/sort/multinomial calls
    cost one device round trip per row, which dominated steps on a GPU.
    """
    greedy = logits.argmax(dim=-1)
    hot = [r for r, job in enumerate(jobs) if job.temperature > 0]
    if not hot:
        return greedy.tolist()
    rows = torch.tensor(hot, device=logits.device)
    temp = torch.tensor([jobs[r].temperature for r in hot], device=logits.device)
    top_p = torch.tensor([jobs[r].top_p for r in hot], device=logits.device)
    u = torch.cat([torch.rand(1, generator=jobs[r].generator) for r in hot]).to(logits.device)
    probs = torch.softmax(logits[rows] / temp[:, None], dim=-1)
    if any(jobs[r].top_p < 1.0 for r in hot):
        probs, order = probs.sort(dim=-1, descending=True)
        # keep the smallest prefix whose mass reaches top_p (always at least one token)
        probs = probs.masked_fill(probs.cumsum(-1) - probs >= top_p[:, None], 0.0)
    else:
        order = None
    cdf = probs.cumsum(-1)
    pick = torch.searchsorted(cdf, (u * cdf[:, -1])[:, None], right=True).clamp_(max=cdf.shape[-1] - 1)
    if order is not None:
        pick = order.gather(1, pick)
    greedy[rows] = pick[:, 0]
    return greedy.tolist()


def _stop_enders(stop: tuple[str, ...], decode: Callable[[list[int]], str], vocab_size: int | None):
    """The token ids that can complete one of `stop`: those whose own text holds a stop string's
    last character, or an incomplete UTF-8 sequence. None (check every token) where that reasoning
    does not hold: a last character that is whitespace or non-ASCII, which tokenizers may merge,
    strip or split across tokens."""
    finals = {s[-1] for s in stop}
    if vocab_size is None or any(not c.isascii() or c.isspace() for c in finals):
        return None
    enders = set()
    for i in range(vocab_size):
        text = decode([i])
        if "\ufffd" in text or any(c in text for c in finals):
            enders.add(i)
    return frozenset(enders)


def _cache_kwarg(model) -> str:
    """transformers 5 renamed `past_key_values` to `cache`; accept both generations."""
    import inspect
    params = inspect.signature(model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _vocab_size(model) -> int | None:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    weight = getattr(head, "weight", None)
    return int(weight.shape[0]) if weight is not None else None


def _layers(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache))  # transformers 4.x


def _set_layers(cache, kv) -> None:
    if hasattr(cache, "layers"):
        if not cache.layers or len(cache.layers) != len(kv):
            from transformers.cache_utils import DynamicLayer
            cache.layers = [DynamicLayer() for _ in kv]
        for layer, (k, v) in zip(cache.layers, kv):
            layer.keys, layer.values = k, v
            layer.is_initialized = True
            layer.dtype, layer.device = k.dtype, k.device
    else:
        cache.key_cache = [k for k, _ in kv]
        cache.value_cache = [v for _, v in kv]


def _lpad(x: torch.Tensor, width: int) -> torch.Tensor:
    """Left-pad a [B, H, T, D] cache tensor with zeros along T up to `width`."""
    missing = width - x.shape[2]
    if missing <= 0:
        return x
    return torch.cat([x.new_zeros(x.shape[0], x.shape[1], missing, x.shape[3]), x], dim=2)


def _lpad_mask(m: torch.Tensor, width: int) -> torch.Tensor:
    missing = width - m.shape[1]
    return m if missing <= 0 else torch.cat([m.new_zeros(m.shape[0], missing), m], dim=1)
