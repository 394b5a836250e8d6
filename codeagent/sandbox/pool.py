"""A small pool of warm sandboxes, so a task pays for a reset instead of a container start.

    with SandboxPool("docker", size=4, limits=limits) as pool:
        with pool.checkout(snapshot) as box:   # from any worker thread
            box.exec("pytest -q")

A backend whose sandboxes can `reset(snapshot)` (docker: one exec that kills every process,
empties /work and /tmp, unpacks the snapshot and runs git init) is reused; any other backend
(local) simply gets a fresh sandbox per checkout, so callers never branch on backend names.
A sandbox that died, timed out its reset or reports itself `broken` is replaced.

Callers that manage what a sandbox holds themselves (the test engine: its runner cleans a
scratch folder per job) check out with `reset=False`: an idle sandbox last given the same
snapshot comes back as it is, without the reset exec. A checkout whose body raises, or an
`acquire` released with `healthy=False`, discards the sandbox instead of keeping it.
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
        self._given: dict[int, str | None] = {}
        """id(sandbox) -> key of the snapshot it was given with reset=False (None: reset on reuse)."""
        self._closed = False

    @contextlib.contextmanager
    def checkout(self, snapshot: Snapshot, *, reset: bool = True) -> Iterator[Sandbox]:
        """A sandbox holding `snapshot` as a fresh git repo; returned to the pool on exit, or
        discarded if the body raised."""
        box = self.acquire(snapshot, reset=reset)
        healthy = False
        try:
            yield box
            healthy = True
        finally:
            self.release(box, healthy=healthy)

    def acquire(self, snapshot: Snapshot, *, reset: bool = True) -> Sandbox:
        """Take a sandbox (waiting while `size` are out); give it back with `release`.
        reset=False: an idle sandbox last given the same snapshot is returned as it is."""
        self._slots.acquire()
        try:
            return self._take(snapshot, reset)
        except BaseException:
            self._slots.release()
            raise

    def release(self, box: Sandbox, *, healthy: bool = True) -> None:
        """Return a sandbox from `acquire`; unhealthy ones (and ones the pool cannot reuse) are closed."""
        try:
            key = self._given.get(id(box))
            keep = (healthy and not self._closed and getattr(box, "broken", None) is None
                    and (isinstance(box, Resettable) or key is not None)
                    and getattr(box, "alive", lambda: True)())
            if keep:
                with self._lock:
                    self._idle.append(box)
            else:
                self._discard(box)
        finally:
            self._slots.release()

    def _take(self, snapshot: Snapshot, reset: bool) -> Sandbox:
        if self._closed:
            raise SandboxError("sandbox pool is closed")
        files = snapshot_files(snapshot)  # a bad snapshot is the caller's error, not the sandbox's
        key = None if reset else _snapshot_key(files)
        while True:
            with self._lock:
                box = self._idle.pop() if self._idle else None
            if box is None:
                break
            if key is not None and self._given.get(id(box)) == key:
                return box  # as it was left: the caller said that is fine
            if not isinstance(box, Resettable):
                self._discard(box)
                continue
            try:
                box.reset(files)
                self._given[id(box)] = key
                return box
            except SandboxError:
                self._discard(box)  # it misbehaved: replace it with the next idle or a new one
        box = self._factory(files, self.limits)
        with self._lock:
            self._all.append(box)
            self._given[id(box)] = key
        return box

    def _discard(self, box: Sandbox) -> None:
        with self._lock:
            if box in self._all:
                self._all.remove(box)
            self._given.pop(id(box), None)
        with contextlib.suppress(Exception):  # a dead container may fail to close; it is gone anyway
            box.close()

    def close(self) -> None:
        """Remove every sandbox of the pool, including checked-out ones (their execs then fail
        as data, and returning them is a no-op): a pool is closed when its run is over."""
        with self._lock:
            self._closed = True
            boxes, self._idle = list(self._all), []
        # Removing a container is a daemon round trip of ~50 ms: remove them all at once.
        from codeagent.executor import make_executor
        closer = make_executor("local", workers=max(1, len(boxes)))
        try:
            for _ in closer.map_unordered(self._discard, boxes):
                pass
        finally:
            closer.close()

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _snapshot_key(files: dict[str, bytes]) -> str:
    import hashlib
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
    return digest.hexdigest()
