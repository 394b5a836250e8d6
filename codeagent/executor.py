"""Fan-out: the one interface every stage uses to run many independent items concurrently.

Stages, agents and verifiers never start threads of their own for fan-out over items (attempts,
test batches, sandboxes to close); they hand a function and items to an `Executor`. (A local
model's decode loop runs on one thread of its own: that is the model's engine batching
concurrent calls, not fan-out.) A distributed executor (`ray`, in `codeagent/executors/ray.py`)
replaces `LocalExecutor` with one registry entry, without touching any of them.

A function with state of its own (a model replica, a pool of sandboxes) is an object with
`open()` and `close()`: the executor calls `open()` once in each process that runs it, before its
first item there, and `close()` when the executor closes. Such an object must be picklable before
`open()` (it then carries only its config), so a distributed executor can ship it once per worker
and have each worker open its own replica and sandboxes. An executor that runs items in this
process says so with `in_process = True`: only then may `fn` close over local state or callbacks.

With a local model, concurrency is also how batching happens: the hf backend coalesces
concurrent `generate` calls into one batch, so `workers` ≈ the model's batch size.
"""

from __future__ import annotations

import importlib
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Generic, Iterable, Iterator, Protocol, TypeVar

from codeagent.errors import UserError, unknown_name

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Outcome(Generic[T, R]):
    """The result of one item, or the exception it raised (as data: one item's failure does
    not stop the others; the caller decides what it means)."""

    item: T
    result: R | None = None
    error: BaseException | None = None
    traceback: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


class WorkerLost(RuntimeError):
    """The worker (process, node) running an item died every time the item was tried: the
    infrastructure failed, not the item."""


class Executor(Protocol):
    in_process: bool
    """True when `fn` runs in this process (closures and callbacks work)."""

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """`fn(item)` for every item, yielded as each finishes (any order). Items are taken from
        `items` lazily; closing the iterator early cancels the ones not started."""
        ...

    def close(self) -> None:
        """Stop accepting work, close every stateful fn opened, release workers (running items
        are not interrupted)."""
        ...


class LocalExecutor:
    """A thread pool in this process. Threads suit the work: agents wait on models (which batch
    concurrent calls) and on sandboxes (separate processes/containers), not on Python code."""

    in_process = True

    def __init__(self, workers: int = 4, per_worker: int | None = None):
        """workers: items in flight. per_worker: items one copy of a stateful fn serves at once;
        every thread here shares the one copy, so it has no effect."""
        if workers < 1:
            raise UserError(f"executor workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codeagent-worker")
        self._opened: list = []

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        if hasattr(fn, "open") and not any(f is fn for f in self._opened):
            fn.open()  # here, on the caller's thread (the main one: sandbox signal hooks need it)
            self._opened.append(fn)
        source = iter(items)
        running: dict[Future, T] = {}
        try:
            # Keep a bounded number in flight so early stops waste little and items stay lazy.
            for item in source:
                running[self._pool.submit(_call, fn, item)] = item
                if len(running) >= 2 * self.workers:
                    break
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    yield future.result()
                    nxt = next(source, _END)
                    if nxt is not _END:
                        running[self._pool.submit(_call, fn, nxt)] = nxt
        finally:
            for future in running:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        opened, self._opened = self._opened, []
        for fn in opened:
            fn.close()

    def __enter__(self) -> "LocalExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_END = object()


def _call(fn, item) -> Outcome:
    try:
        return Outcome(item=item, result=fn(item))
    except Exception as e:  # returned as data; BaseException (KeyboardInterrupt) still propagates
        return Outcome(item=item, error=e, traceback=traceback.format_exc())


# name -> "module:class", imported on first use (Ray is an optional extra).
EXECUTORS: dict[str, str] = {
    "local": "codeagent.executor:LocalExecutor",
    "ray": "codeagent.executors.ray:RayExecutor",
}


def make_executor(name: str = "local", **options) -> Executor:
    if name not in EXECUTORS:
        raise unknown_name("executor", name, EXECUTORS)
    module, _, attr = EXECUTORS[name].partition(":")
    return getattr(importlib.import_module(module), attr)(**options)
