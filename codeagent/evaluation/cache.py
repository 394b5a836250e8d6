"""Result cache keyed by content, not by run name: (hash of the repo files after the patch,
hash of the test files, timeout). Re-evaluating an unchanged sample costs nothing; a changed
patch or changed held-out tests always re-run."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path

from .base import TestJob, TestReport

CACHE_VERSION = 2  # bump when the meaning of a stored report changes


def _harness_digest() -> str:
    """The in-sandbox harness's own source: a changed runner, judge or guard never reuses a
    verdict the old one gave (no manual version bump to forget)."""
    h = hashlib.sha256()
    for name in ("runner", "judge", "guard", "wire"):
        path = Path(__file__).with_name(f"{name}.py")
        h.update(path.read_bytes() if path.is_file() else b"")
    return h.hexdigest()[:16]


HARNESS_DIGEST = _harness_digest()


def job_digest(job: TestJob) -> str:
    h = hashlib.sha256(f"v{CACHE_VERSION}|{HARNESS_DIGEST}|{job.timeout_s}".encode())
    for part in (job.files, job.test_files, job.judge or {}):
        h.update(json.dumps(sorted(part.items())).encode())
        h.update(b"|")
    return h.hexdigest()


class ResultCache:
    def __init__(self, folder: Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(folder / "results.sqlite", check_same_thread=False, timeout=30)
        self._db.execute("CREATE TABLE IF NOT EXISTS results (digest TEXT PRIMARY KEY, report TEXT)")
        self._lock = threading.Lock()

    def get(self, job: TestJob) -> TestReport | None:
        with self._lock:
            row = self._db.execute("SELECT report FROM results WHERE digest=?", (job_digest(job),)).fetchone()
        if row is None:
            return None
        d = json.loads(row[0])
        d.pop("n_pass", None), d.pop("n_total", None)
        d["key"] = job.key
        return TestReport(**d)

    def put(self, job: TestJob, report: TestReport) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO results VALUES (?, ?)",
                             (job_digest(job), json.dumps(report.to_dict())))
            self._db.commit()
