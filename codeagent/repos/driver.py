"""In-sandbox pytest driver for repository tasks. Stdlib and pytest only: the harness runs it as
`python3 -I -c SOURCE SPEC.json KEYFILE`, so it is never a file in the work tree a patch could
replace, and `-I` keeps the work tree (a planted sitecustomize, pytest.py, .pth) off sys.path.

Two processes, two trust levels.
- The PARENT (this driver) holds the verdict channel: its own stdout, on which it prints ONE
  line, REPORT_PREFIX + {"report": ..., "mac": HMAC-SHA256(key, report)}. The key reaches it
  only AFTER the child is forked (from KEYFILE, which it unlinks before letting the child go),
  so no copy of it is ever in the child's memory, and the parent makes itself non-dumpable
  first (PR_SET_DUMPABLE=0), so the child (same uid) cannot open /proc/<parent>/{mem,fd/*},
  ptrace it or read it with process_vm_readv. The child can still reach the exec's stdout through
  the shells above the driver (/proc/<sh>/fd/1) and can kill the driver, but whatever it prints
  there carries no valid MAC, and the harness counts any stdout besides the one signed line as
  tampering (grade.py). Killing the driver yields no report at all: never a pass.
- The CHILD runs pytest and, inside it, the library under test. It reports each test's outcome
  as JSON lines on a pipe, each stamped with a nonce. That channel is NOT sealed: library code
  shares the process and can find the pipe, the nonce, and pytest's own objects. What the harness
  does about it is detection (canaries, strict record checks: `integrity.py`) plus an audit hook
  (PEP 578) installed after pytest is imported and before any repository code, which blocks and
  reports the moves that reach outside the child: signalling the driver or its ancestors,
  opening another process's /proc entries, and ctypes (raw memory). Pytest itself needs frames,
  gc and tracing, so those are not blocked here (unlike evaluation/guard.py).

The pytest command line is ours: `-c` points at our ini file (the repository's pytest.ini/
setup.cfg/tox.ini are ignored), conftest files are off, `-I` keeps the repository off sys.path
until pytest itself is imported, and only the test files the harness names are collected.
pytest's exit status and printed summary are never read. Tests a run did not report are
`not-run`, never passed. The parent also hashes every test file before the child starts and
after it died (a library that rewrites a test file mid-run shows up), and bounds what it reads
from the pipe (a flood ends the run as `overflow`).

SPEC: {"files": [test paths], "select": [node ids] | null, "timeout": seconds, "ini": text}
"""

import hashlib
import hmac
import json
import os
import select
import signal
import sys
import time

REPORT_PREFIX = "@@codeagent-repo-report "
MESSAGE_CHARS = 600
OUTPUT_TAIL = 2000
MAX_PIPE_BYTES = 8 << 20
"""Most bytes read from the child's report pipe; an honest run writes a few hundred per test."""
MAX_LINE_BYTES = 1 << 16
PR_SET_DUMPABLE = 4


def mac_of(key, report_text):
    """The report's MAC; `report_text` is the exact JSON text the driver printed."""
    return hmac.new(key, report_text.encode(), hashlib.sha256).hexdigest()


class ReportPlugin:
    """Writes one JSON line per finished test (and per collection error) to a pipe fd."""

    def __init__(self, fd, wanted, nonce):
        self.out = os.fdopen(fd, "w", buffering=1)
        self.wanted = set(wanted) if wanted is not None else None
        self.nonce = nonce

    def _emit(self, rec):
        rec["n"] = self.nonce
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


def ancestors():
    """Pids above this process (the driver, the exec's shells), up to init."""
    pids, pid = [], os.getppid()
    while pid > 1:
        pids.append(pid)
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def install_guard(plugin, report_fd):
    """The child's audit hook: block and report what only a forger needs (see the docstring).

    Honest library code may signal its own children or itself, read /proc/self, open files; it
    has no reason to signal the driver, read another process's /proc entries, reopen the
    harness's pipes or load raw memory access."""
    me = os.getpid()
    above = set(ancestors())
    groups = set()
    for p in above:
        try:
            groups.add(os.getpgid(p))
        except OSError:
            pass
    seen = set()
    busy = [False]

    def verdict(event, args):
        if event == "os.kill" and args:
            pid = args[0]
            if pid in above or pid == -1 or (pid < -1 and -pid in groups):
                return "kills-harness", "os.kill(%r)" % (pid,)
        elif event == "os.killpg" and args:
            if args[0] in groups:
                return "kills-harness", "os.killpg(%r)" % (args[0],)
        elif event == "open" and args:
            path = args[0]
            if isinstance(path, int):
                if path == report_fd:
                    return "reads-harness", "open(fd %d)" % path
                return None
            if isinstance(path, bytes):
                path = path.decode("utf-8", "replace")
            if isinstance(path, str) and path.startswith("/proc/"):
                part = path.split("/")[2]
                if part.isdigit() and int(part) != me:
                    return "reads-harness", "open(%r)" % path
        elif event.startswith("ctypes."):
            return "uses-ctypes", event
        return None

    def hook(event, args):
        if busy[0]:
            return
        busy[0] = True
        try:
            found = verdict(event, args)
        except Exception:  # noqa: BLE001 — classification must never break honest code
            found = None
        finally:
            busy[0] = False
        if found is not None:
            if found not in seen:
                seen.add(found)
                busy[0] = True
                try:
                    plugin._emit({"hack": found[0], "event": found[1][:200]})
                finally:
                    busy[0] = False
            raise PermissionError("blocked by the test harness: %s" % found[1])

    sys.addaudithook(hook)


def child(spec, fd, ini, nonce):
    # No bytecode is written into the repository (see remove_bytecode).
    sys.dont_write_bytecode = True
    import pytest  # from the image's site-packages, before the repository is on sys.path
    plugin = ReportPlugin(fd, spec.get("select"), nonce)
    install_guard(plugin, fd)
    sys.path.insert(0, os.getcwd())  # as `python -m pytest` would, for the library's imports
    args = ["-c", ini, "--rootdir", os.getcwd(), "--noconftest", "-p", "no:cacheprovider",
            "-q", "--tb=short", "-W", "ignore::DeprecationWarning"] + list(spec["files"])
    pytest.main(args, plugins=[plugin])
    os._exit(0)  # the status carries nothing; skip atexit hooks the library may have installed


def remove_bytecode(root):
    """Delete every `__pycache__` under the repository. Files are written into the sandbox with a
    fixed mtime, so a .pyc left by an earlier run, or planted by a patch, would be taken for the
    current source whenever the sizes match. (The system's own .pyc files are kept: recompiling
    the standard library and pytest on every run would cost seconds.)"""
    import shutil
    for dirpath, dirnames, filenames in os.walk(root):
        if "__pycache__" in dirnames or "__pycache__" in filenames:
            path = os.path.join(dirpath, "__pycache__")
            if os.path.islink(path) or not os.path.isdir(path):  # a planted link to other bytecode
                os.unlink(path)
            else:
                shutil.rmtree(path, ignore_errors=True)
            if "__pycache__" in dirnames:
                dirnames.remove("__pycache__")


def file_states(paths):
    """path -> {"sha256", "real"}: what pytest will import, and where it really lives."""
    out = {}
    for p in paths:
        try:
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        except OSError as e:
            digest = "unreadable: %s" % e.strerror
        out[p] = {"sha256": digest, "real": os.path.relpath(os.path.realpath(p), os.getcwd())}
    return out


def make_non_dumpable():
    """PR_SET_DUMPABLE=0: /proc/<pid>/{mem,fd,environ} and ptrace closed to same-uid processes."""
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except Exception:  # noqa: BLE001 — reported; the harness decides what it is worth
        return False


def read_events(r, deadline):
    """Read the child's JSON lines until EOF, the deadline or the byte bound."""
    events, buf, total = [], b"", 0
    timed_out = overflow = False
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
        total += len(chunk)
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"garbled": line[:200].decode("utf-8", "replace")}
            events.append(ev if isinstance(ev, dict) else {"garbled": str(ev)[:200]})
        if total > MAX_PIPE_BYTES or len(buf) > MAX_LINE_BYTES:
            overflow = True
            break
    return events, timed_out, overflow


def main(spec_path, key_path):
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
    before = file_states(spec["files"])
    nonce = os.urandom(16).hex()
    r, w = os.pipe()
    go_r, go_w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.close(r)
            os.close(go_w)
            out = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.close(out)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.close(devnull)
            # Wait until the parent holds the key and is sealed; nothing of ours runs before.
            if os.read(go_r, 1) == b"g":
                os.close(go_r)
                child(spec, w, ini, nonce)
        finally:
            os._exit(70)
    os.close(w)
    os.close(go_r)
    sealed = make_non_dumpable()
    with open(key_path) as f:
        key = bytes.fromhex(f.read().strip())
    os.unlink(key_path)
    os.write(go_w, b"g")
    os.close(go_w)
    events, timed_out, overflow = read_events(r, start + float(spec["timeout"]))
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
    # Every record the child wrote carries the nonce; one that does not was written by someone
    # else (the nonce is stripped so the harness sees records only).
    for ev in events:
        if ev.pop("n", None) != nonce and "garbled" not in ev:
            ev["unstamped"] = True
    report = {"events": events, "timed_out": timed_out, "overflow": overflow, "sealed": sealed,
              "duration": round(time.monotonic() - start, 3), "exit_status": status, "output_tail": tail,
              "files_before": before, "files_after": file_states(spec["files"])}
    text = json.dumps(report)
    sys.stdout.write(REPORT_PREFIX + json.dumps({"report": text, "mac": mac_of(key, text)}) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
