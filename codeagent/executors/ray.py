"""`ray`: fan-out across a Ray cluster (`pip install 'codeagent[ray]'`).

Items run on long-lived Ray actors ("workers"). Each declares `cpus` CPUs, so Ray places no
more of them on a node than it has, and takes at most `per_worker` items at once. Workers are
spread over the nodes. A function is shipped to each worker once (one object put, holding its
config and never model weights); a stateful one is opened there before its first item (a model
replica loaded from a path or server every node can reach, a sandbox pool on that node) and
closed when the executor closes. Each item goes to the least-loaded ready worker, and results
stream back to the caller, which alone writes them down.

Failures are data. An exception raised by `fn` comes back as that exception, as with the local
executor. A worker or node that dies mid-item is dropped (and a replacement started, which
serves once Ray can place it); its items are retried on other workers up to `max_retries` times,
then come back with a `WorkerLost` error. Closing (also after Ctrl-C) closes every worker's
functions (their sandboxes are removed) and kills the workers; a cluster this executor started
itself is stopped.
"""

from __future__ import annotations

import collections
import itertools
import math
import sys
import threading
import time
from typing import Callable, Iterable, Iterator

from codeagent.errors import UserError
from codeagent.executor import Outcome, WorkerLost

try:
    import ray
    from ray.exceptions import (NodeDiedError, ObjectLostError, OutOfMemoryError, OwnerDiedError,
                                RayActorError, RayTaskError, WorkerCrashedError)
except ImportError:  # the registry imports this module only when `ray` is asked for
    raise UserError("--executor ray needs Ray, an optional extra: pip install 'codeagent[ray]' "
                    "(ray==2.60.0)") from None

# What a dead worker process or node looks like to the caller: retry the item elsewhere.
# OutOfMemoryError: Ray's memory monitor killed the worker because the node ran short.
LOST = (RayActorError, WorkerCrashedError, NodeDiedError, ObjectLostError, OwnerDiedError, OutOfMemoryError)

OBJECT_STORE_BYTES = 200 << 20
"""Object store of a cluster started here: items and results are small (no weights travel)."""


class RayExecutorError(UserError):
    """The cluster cannot run the work (no room for a worker, every worker gone)."""


@ray.remote
class _Worker:
    """One worker: the functions shipped to it, opened on first use, and items run on them."""

    def __init__(self):
        self._fns: dict[int, object] = {}
        self._lock = threading.Lock()

    def prepare(self, key: int, boxed: list) -> str:
        # `boxed` is [ObjectRef] so Ray hands the reference over unresolved: it is fetched once.
        with self._lock:
            if key not in self._fns:
                fn = ray.get(boxed[0])
                if hasattr(fn, "open"):
                    fn.open()
                self._fns[key] = fn
        return ray.get_runtime_context().get_node_id()

    def call(self, key: int, item):
        return self._fns[key](item)

    def close(self) -> None:
        with self._lock:
            fns, self._fns = list(self._fns.values()), {}
        for fn in fns:
            if hasattr(fn, "close"):
                fn.close()


class RayExecutor:
    """Runs items on Ray actors across a cluster (see the module docstring)."""

    in_process = False

    def __init__(self, workers: int = 4, per_worker: int | None = None, address: str | None = None,
                 cpus: float = 1.0, max_retries: int = 2, ready_timeout_s: float = 600.0):
        """workers: items in flight in total. per_worker: items one worker takes at once (None:
        `workers` spread over as many workers as the cluster's CPUs allow). address: a running
        cluster's `HOST:PORT` (None: the cluster `ray start` runs on this machine or at
        $RAY_ADDRESS, else a private one started here). cpus: CPUs each worker declares.
        max_retries: times an item whose worker died is tried again elsewhere."""
        if workers < 1:
            raise UserError(f"executor workers must be at least 1, got {workers}")
        self._owns_ray = _connect(address)
        capacity = int(ray.cluster_resources().get("CPU", 0) // cpus)
        if capacity < 1:
            self.close()
            raise RayExecutorError(f"the Ray cluster has {ray.cluster_resources().get('CPU', 0)} CPUs; "
                                   f"a worker needs {cpus}")
        n = min(workers, capacity) if per_worker is None else min(math.ceil(workers / per_worker), capacity)
        self.per_worker = per_worker or math.ceil(workers / n)
        self.cpus = cpus
        self.max_retries = max_retries
        self.ready_timeout_s = ready_timeout_s
        self._actors = [self._start() for _ in range(n)]
        self._dead: list = []
        self._shipped: dict[int, tuple[object, object]] = {}  # key -> (fn, its ObjectRef)
        self._prepared: dict[int, set] = collections.defaultdict(set)  # key -> ready actors
        self._keys = itertools.count()
        self.retried = 0
        """Items tried again because their worker died (for tests and reports)."""

    def _start(self):
        return _Worker.options(num_cpus=self.cpus, max_concurrency=self.per_worker + 1, max_restarts=0,
                               max_task_retries=0, scheduling_strategy="SPREAD").remote()

    # -- running ----------------------------------------------------------------------------
    def map_unordered(self, fn: Callable, items: Iterable) -> Iterator[Outcome]:
        key = self._ship(fn)
        ready = self._prepared[key]
        preparing = {a.prepare.remote(key, [self._shipped[key][1]]): a
                     for a in self._actors if a not in ready}
        load = collections.Counter()
        running: dict = {}  # ObjectRef -> (actor, item, tries)
        retry: collections.deque = collections.deque()
        source = iter(items)
        exhausted = False
        waiting_since = time.monotonic()
        try:
            while True:
                # Hand out work: retries first, each to the least-loaded ready worker with room.
                while ready:
                    actor = min(ready, key=lambda a: load[a])
                    if load[actor] >= self.per_worker:
                        break
                    if retry:
                        item, tries = retry.popleft()
                    else:
                        item = next(source, _END) if not exhausted else _END
                        if item is _END:
                            exhausted = True
                            break
                        tries = 0
                    running[actor.call.remote(key, item)] = (actor, item, tries)
                    load[actor] += 1
                if exhausted and not retry and not running:
                    return
                if not ready and not running:
                    self._check_waiting(preparing, waiting_since)
                done, _ = ray.wait([*running, *preparing], num_returns=1, timeout=5.0)
                for ref in done:
                    if ref in preparing:
                        actor = preparing.pop(ref)
                        try:
                            ray.get(ref)
                        except LOST:
                            self._replace(actor, preparing, key)
                            continue
                        except RayTaskError as e:  # fn.open() failed: the same on every worker
                            raise e.as_instanceof_cause() from None
                        ready.add(actor)
                        continue
                    actor, item, tries = running.pop(ref)
                    load[actor] -= 1
                    try:
                        yield Outcome(item=item, result=ray.get(ref))
                    except RayTaskError as e:
                        yield Outcome(item=item, error=e.cause if isinstance(e.cause, Exception) else e,
                                      traceback=str(e))
                    except LOST as e:
                        self._replace(actor, preparing, key)
                        if tries < self.max_retries:
                            self.retried += 1
                            retry.append((item, tries + 1))
                            print(f"ray: a worker died ({type(e).__name__}); its item is tried again elsewhere "
                                  f"(retry {tries + 1} of at most {self.max_retries})", file=sys.stderr)
                        else:
                            yield Outcome(item=item, error=WorkerLost(
                                f"the worker running this item died {tries + 1} time(s); last: "
                                f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"))
                    if not ready and not running:
                        waiting_since = time.monotonic()
        finally:
            for ref in running:  # Ctrl-C or an early stop: nothing keeps running for us
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 — best effort; close() kills the workers anyway
                    pass

    def _ship(self, fn) -> int:
        for key, (shipped, _) in self._shipped.items():
            if shipped is fn:
                return key
        key = next(self._keys)
        self._shipped[key] = (fn, ray.put(fn))
        return key

    def _replace(self, actor, preparing: dict, key: int) -> None:
        """Drop a dead worker and start another; it serves once Ray can place it."""
        if actor in self._actors:
            self._actors.remove(actor)
            self._dead.append(actor)
            for ready in self._prepared.values():
                ready.discard(actor)
            fresh = self._start()
            self._actors.append(fresh)
            preparing[fresh.prepare.remote(key, [self._shipped[key][1]])] = fresh

    def _check_waiting(self, preparing: dict, since: float) -> None:
        if not preparing:
            raise RayExecutorError("every Ray worker died and none could be started again; "
                                   "the items not yet done were not run (a rerun retries them)")
        if time.monotonic() - since > self.ready_timeout_s:
            raise RayExecutorError(
                f"no Ray worker became ready in {self.ready_timeout_s:.0f}s: each needs {self.cpus} free CPU(s) "
                f"on a node (cluster now: {ray.available_resources().get('CPU', 0)} of "
                f"{ray.cluster_resources().get('CPU', 0)} free)")

    # -- stopping ---------------------------------------------------------------------------
    def close(self) -> None:
        actors, self._actors = getattr(self, "_actors", []), []
        started = set().union(*getattr(self, "_prepared", {}).values())
        # Each worker that opened functions closes them (removing its sandboxes) before it is
        # killed; one still waiting for room on a node has nothing open and would never answer.
        closing = [a.close.remote() for a in actors if a in started]
        if closing:
            try:
                ray.wait(closing, num_returns=len(closing), timeout=60.0)
            except Exception:  # noqa: BLE001 — a dead worker cannot close; killing it is all there is
                pass
        for actor in [*actors, *getattr(self, "_dead", [])]:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 — already gone
                pass
        self._dead = []
        self._shipped = {}
        if getattr(self, "_owns_ray", False):
            self._owns_ray = False
            ray.shutdown()

    def __enter__(self) -> "RayExecutor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_END = object()


def _connect(address: str | None) -> bool:
    """Connect this process to Ray; True when this call did (and `close` should disconnect)."""
    if ray.is_initialized():
        return False
    quiet = {"logging_level": "WARNING", "configure_logging": True}
    if address:
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, ValueError) as e:
            raise RayExecutorError(f"cannot reach the Ray cluster at --ray-address {address}: {e}") from None
        return True
    try:
        ray.init(address="auto", **quiet)  # a cluster `ray start` runs here, or $RAY_ADDRESS
    except ConnectionError:
        ray.init(include_dashboard=False, object_store_memory=OBJECT_STORE_BYTES, **quiet)
    return True


__all__ = ["RayExecutor", "RayExecutorError"]
