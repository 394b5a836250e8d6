"""The test engine's batches, run by an executor in other processes (Ray workers).

`RemoteBatches` is what `TestEngine` hands an executor that is not `in_process`: picklable
settings (backend, limits) from which each worker opens a `TestEngine` of its own, with warm
sandboxes on its node. A batch's reports come back with it; the driver's engine keeps the
content-keyed cache, the callbacks and the progress bar, so verdicts and caching are the same
whichever executor ran the jobs.
"""

from __future__ import annotations

import threading

from codeagent.sandbox import SandboxLimits

from .base import TestJob, TestReport


class RemoteBatches:
    """`RemoteBatches(backend, limits)(batch) -> [TestReport]`, in this process's own sandboxes."""

    def __init__(self, backend: str, limits: SandboxLimits):
        self.backend = backend
        """A concrete backend (the driver resolved `auto`): every worker runs the same one."""
        self.limits = limits
        self._engine = None
        self._lock = threading.Lock()

    def open(self) -> None:
        from .engine import TestEngine
        with self._lock:
            if self._engine is None:
                self._engine = TestEngine(self.backend, workers=1, limits=self.limits, quiet=True)

    def __call__(self, batch: list[TestJob]) -> list[TestReport]:
        if self._engine is None:
            self.open()
        reports: list[TestReport] = []
        self._engine.run_batch(batch, lambda report, job: reports.append(report))
        return reports

    def close(self) -> None:
        with self._lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.close()

    def __getstate__(self) -> dict:
        return {"backend": self.backend, "limits": self.limits}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["backend"], state["limits"])
