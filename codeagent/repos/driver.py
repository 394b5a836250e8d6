"""In-sandbox pytest driver for repository tasks. Stdlib and pytest only: the harness copies it
into the sandbox (after the candidate's patch, so a patch cannot replace it) and runs
`python3 -I DRIVER SPEC.json`.

Where the verdict comes from. The driver starts pytest in a child process (own session, wall
timeout that kills the whole group, stdout/stderr to a file the harness only keeps a tail of) with
a plugin object of ours that reports each test's outcome as one JSON line on a pipe the driver
created. The driver prints those outcomes as one REPORT_PREFIX line on its OWN stdout, which the
child cannot reach. pytest's exit status and its printed summary are never read. The pytest
command line is ours: `-c` points at our ini file (the repository's pytest.ini/setup.cfg/tox.ini
are ignored), conftest files are off, `-I` keeps the repository off sys.path until pytest itself
is imported, and only the test files the harness names are collected. Tests a run did not report
are `not-run`, never passed.

What this does NOT stop: library code runs inside the pytest process (it is what is under
test), so a deliberately hostile patch could write to the plugin's pipe itself. The harness
flags patches that touch tests or test configuration; it does not claim more.

SPEC: {"files": [test paths], "select": [node ids] | null, "timeout": seconds}
"""

import json
import os
import select
import signal
import sys
import time

REPORT_PREFIX = "@@codeagent-repo-report "
MESSAGE_CHARS = 600
OUTPUT_TAIL = 2000


class ReportPlugin:
    """Writes one JSON line per finished test (and per collection error) to a pipe fd."""

    def __init__(self, fd, wanted):
        self.out = os.fdopen(fd, "w", buffering=1)
        self.wanted = set(wanted) if wanted is not None else None
        self.setup_failed = set()

    def _emit(self, rec):
        try:
            self.out.write(json.dumps(rec) + "\n")
        except (OSError, ValueError):
            pass

    def pytest_collection_modifyitems(self, session, config, items):
        if self.wanted is None:
            return
        keep = [it for it in items if it.nodeid in self.wanted]
        dropped = [it for it in items if it.nodeid not in self.wanted]
        items[:] = keep
        config.hook.pytest_deselected(items=dropped)

    def pytest_collectreport(self, report):
        if report.failed:
            self._emit({"collect_error": report.nodeid, "message": _message(report)})

    def pytest_runtest_logreport(self, report):
        # One outcome per test: setup error or skip, else the call's, and a failing teardown
        # turns a pass into an error.
        rec = None
        if report.when == "setup" and (report.failed or report.skipped):
            rec = {"test": report.nodeid, "outcome": "error" if report.failed else "skipped"}
        elif report.when == "call":
            outcome = "skipped" if report.skipped else report.outcome
            if hasattr(report, "wasxfail"):
                outcome = "xfail" if report.skipped else "xpass"
            rec = {"test": report.nodeid, "outcome": outcome}
        elif report.when == "teardown" and report.failed:
            rec = {"test": report.nodeid, "outcome": "error", "teardown": True}
        if rec is not None:
            if report.failed:
                rec["message"] = _message(report)
            self._emit(rec)

    def pytest_sessionfinish(self, session, exitstatus):
        self._emit({"finished": True})
        self.out.close()


def _message(report):
    """The failure's one-line summary (exception type and message), never the test's source."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message[:MESSAGE_CHARS]
    text = str(report.longrepr or "")
    lines = [ln for ln in text.splitlines() if ln.startswith("E ")]
    return (lines[-1][1:].strip() if lines else text[-MESSAGE_CHARS:])[:MESSAGE_CHARS]


def child(spec, fd, ini):
    # No bytecode is written into the repository (see remove_bytecode).
    sys.dont_write_bytecode = True
    import pytest  # from the image's site-packages, before the repository is on sys.path
    sys.path.insert(0, os.getcwd())  # as `python -m pytest` would, for the library's imports
    args = ["-c", ini, "--rootdir", os.getcwd(), "--noconftest", "-p", "no:cacheprovider",
            "-q", "--tb=short", "-W", "ignore::DeprecationWarning"] + list(spec["files"])
    pytest.main(args, plugins=[ReportPlugin(fd, spec.get("select"))])
    os._exit(0)  # the status carries nothing; skip atexit hooks the library may have installed


def remove_bytecode(root):
    """Delete every `__pycache__` under the repository. Files are written into the sandbox with a
    fixed mtime, so a .pyc left by an earlier run, or planted by a patch, would be taken for the
    current source whenever the sizes match. (The system's own .pyc files are kept: recompiling
    the standard library and pytest on every run would cost seconds.)"""
    import shutil
    for dirpath, dirnames, _ in os.walk(root):
        if "__pycache__" in dirnames:
            shutil.rmtree(os.path.join(dirpath, "__pycache__"), ignore_errors=True)
            dirnames.remove("__pycache__")


def main(spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    os.unlink(spec_path)
    scratch = "/tmp/codeagent-repo-driver-%d-%d" % (os.getpid(), time.time_ns())
    os.makedirs(scratch)
    ini = os.path.join(scratch, "pytest.ini")
    with open(ini, "w") as f:
        f.write("[pytest]\n" + spec.get("ini", ""))
    out_path = os.path.join(scratch, "output.txt")
    remove_bytecode(os.getcwd())
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.close(r)
        out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, 1)
        os.dup2(out, 2)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        try:
            child(spec, w, ini)
        finally:
            os._exit(70)
    os.close(w)
    events, buf, timed_out = [], b"", False
    deadline = start + float(spec["timeout"])
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([r], [], [], min(left, 1.0))
        if not ready:
            continue
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                events.append({"garbled": line[:200].decode("utf-8", "replace")})
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    try:
        with open(out_path, "rb") as f:
            f.seek(max(0, os.path.getsize(out_path) - OUTPUT_TAIL))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        tail = ""
    report = {"events": events, "timed_out": timed_out, "duration": round(time.monotonic() - start, 3),
              "exit_status": status, "output_tail": tail}
    sys.stdout.write(REPORT_PREFIX + json.dumps(report) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1])
