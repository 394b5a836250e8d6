"""The one progress bar every long stage shows: done/total, elapsed, ETA, and (optionally) rates.

A disabled bar (or one with nothing to do) draws nothing, and its warnings go to stderr, so
callers never branch on whether progress is shown. Thread-safe: workers advance it directly.
"""

from __future__ import annotations

import sys
import threading
import time


class ProgressBar:
    def __init__(self, label: str, total: int, *, enabled: bool = True, completed: int = 0,
                 rates: bool = False, transient: bool = False):
        """rates: also show attempts/s and tokens/s (pass tokens to `advance`)."""
        self._bar = None
        self._lock = threading.Lock()
        self._start = time.monotonic()
        self._n = self._tokens = 0
        self._rates = rates
        if not (enabled and total):
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("eta"), TimeRemainingColumn()]
        if rates:
            columns.append(TextColumn("{task.fields[rates]}"))
        self._bar = Progress(*columns, transient=transient)
        self._task = self._bar.add_task(label, total=total, completed=completed, rates="")
        self._bar.start()

    def advance(self, n: int = 1, tokens: int = 0) -> None:
        if self._bar is None:
            return
        with self._lock:
            self._n += n
            self._tokens += tokens
            fields = {}
            if self._rates:
                elapsed = max(time.monotonic() - self._start, 1e-6)
                fields["rates"] = f"{self._n / elapsed:.2f} att/s  {self._tokens / elapsed:,.0f} tok/s"
            self._bar.update(self._task, advance=n, **fields)

    def warn(self, message: str) -> None:
        if self._bar is None:
            print(f"warning: {message}", file=sys.stderr)
        else:
            self._bar.console.print(f"[yellow]warning:[/] {message}", highlight=False, markup=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
