"""A small pool of warm sandboxes, so a task pays for a reset instead of a container start.

    with SandboxPool("docker", size=4, limits=limits) as pool:
        with pool.checkout(snapshot) as box:   # from any worker thread
            box.exec("pytest -q")

A backend whose sandboxes can `reset(snapshot)` (docker: one exec that kills every process,
empties /work and /tmp, unpacks the snapshot and runs git init) is reused; any other backend
(local) simply gets a fresh sandbox per checkout, so callers never branch on backend names.
A sandbox that died, timed out its reset or reports itself `broken` is replaced.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import Iterator, Protocol, runtime_checkable

from .base import Sandbox, SandboxError, SandboxLimits, Snapshot, snapshot_files
from . import BACKENDS, resolve_backend


@runtime_checkable
class Resettable(Protocol):
    """A sandbox that can be made fresh with a new snapshot without being restarted."""

    broken: str | None

    def reset(self, snapshot: Snapshot) -> None: ...

    def alive(self) -> bool: ...


class SandboxPool:
    """At most `size` sandboxes in use at once; idle reusable ones are kept warm. Thread-safe."""

    def __init__(self, backend: str = "docker", size: int = 2, limits: SandboxLimits | None = None,
                 *, quiet: bool = True):
        if size < 1:
            raise SandboxError(f"sandbox pool size must be at least 1, got {size}")
        self.backend = resolve_backend(backend, quiet=quiet)
        self.size = size
        self.limits = limits or SandboxLimits()
        module, _, attr = BACKENDS[self.backend].partition(":")
        backend_module = importlib.import_module(module)
        self._factory = getattr(backend_module, attr)
        # here we are usually on the main thread, the only one that may set signal handlers
        getattr(backend_module, "install_cleanup_hooks", lambda: None)()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[Sandbox] = []
        self._all: list[Sandbox] = []
        self._closed = False

    @contextlib.contextmanager
    def checkout(self, snapshot: Snapshot) -> Iterator[Sandbox]:
        """A sandbox holding `snapshot` as a fresh git repo; returned to the pool on exit."""
        self._slots.acquire()
        box = None
        try:
            box = self._acquire(snapshot)
            yield box
        finally:
            if box is not None:
                self._release(box)
            self._slots.release()

    def _acquire(self, snapshot: Snapshot) -> Sandbox:
        if self._closed:
            raise SandboxError("sandbox pool is closed")
        files = snapshot_files(snapshot)  # a bad snapshot is the caller's error, not the sandbox's
        while True:
            with self._lock:
                box = self._idle.pop() if self._idle else None
            if box is None:
                break
            try:
                box.reset(files)  # type: ignore[union-attr]  # only Resettable boxes are kept idle
                return box
            except SandboxError:
                self._discard(box)  # it misbehaved: replace it with the next idle or a new one
        box = self._factory(files, self.limits)
        with self._lock:
            self._all.append(box)
        return box

    def _release(self, box: Sandbox) -> None:
        keep = (isinstance(box, Resettable) and not self._closed and box.broken is None and box.alive())
        if keep:
            with self._lock:
                self._idle.append(box)
        else:
            self._discard(box)

    def _discard(self, box: Sandbox) -> None:
        with self._lock:
            if box in self._all:
                self._all.remove(box)
        with contextlib.suppress(SandboxError):
            box.close()

    def close(self) -> None:
        """Remove every sandbox of the pool, including checked-out ones (their execs then fail
        as data, and returning them is a no-op): a pool is closed when its run is over."""
        with self._lock:
            self._closed = True
            boxes, self._idle = list(self._all), []
        for box in boxes:
            self._discard(box)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
