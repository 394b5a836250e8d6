"""Fan-out: the one interface every stage uses to run many independent items concurrently.

Stages, agents and verifiers never start threads of their own for fan-out over items (attempts,
test batches, sandboxes to close); they hand a function and items to an `Executor`. (A local
model's decode loop runs on one thread of its own: that is the model's engine batching
concurrent calls, not fan-out.) A distributed executor (e.g. Ray) can then replace `LocalExecutor`
by adding one registry entry, without touching any of them.

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


class Executor(Protocol):
    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
        """`fn(item)` for every item, yielded as each finishes (any order). Items are taken from
        `items` lazily; closing the iterator early cancels the ones not started."""
        ...

    def close(self) -> None:
        """Stop accepting work and release workers (running items are not interrupted)."""
        ...


class LocalExecutor:
    """A thread pool in this process. Threads suit the work: agents wait on models (which batch
    concurrent calls) and on sandboxes (separate processes/containers), not on Python code."""

    def __init__(self, workers: int = 4):
        if workers < 1:
            raise UserError(f"executor workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="codeagent-worker")

    def map_unordered(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[Outcome[T, R]]:
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


# name -> "module:class"; a distributed backend registers here.
EXECUTORS: dict[str, str] = {
    "local": "codeagent.executor:LocalExecutor",
}


def make_executor(name: str = "local", **options) -> Executor:
    if name not in EXECUTORS:
        raise unknown_name("executor", name, EXECUTORS)
    module, _, attr = EXECUTORS[name].partition(":")
    return getattr(importlib.import_module(module), attr)(**options)
