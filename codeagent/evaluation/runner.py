"""In-sandbox test runner. Stdlib only: the engine runs it as `python3 -I -c PROGRAM JOBFILE`,
PROGRAM holding this file and its stdlib-only siblings (`judge.py`, `guard.py`, `wire.py`), so
nothing a candidate writes in the sandbox (it owns the work folder) can replace the runner of a
later exec.

Runs many jobs in one exec to amortise sandbox overhead, each job isolated from the others in
its own forked process (own session, rlimits, wall timeout, scratch folder). The verdict comes
only from what this runner reports on ITS OWN stdout: candidate processes get capture files as
stdout/stderr, every other fd is closed, and this process is made non-dumpable so /proc/<pid>/fd
and /proc/<pid>/mem of the runner (and of the judges it forks) are closed to them.

Two ways to run a job's tests:
- judged (the job names its entry point; every function-level task): the tests and the report
  channel live in a trusted judge process, the candidate in a separate process reached only with
  plain data (`judge.py` says why and how). The candidate cannot write the verdict.
- in-process (repository tasks, where tests and code must share a process): the candidate is
  imported beside the tests. Hardened, not sealed: the report channel sits at a random fd and
  every event carries a token, and the audit hook of `guard.py`, installed before the first
  candidate line, flags and blocks what forging needs (frames, gc, trace hooks, ctypes, reading
  tests). A candidate that reaches the report closure by a path no audit event covers could
  still forge; the README says so.

Before each job the runner prints START_PREFIX + key, so when a candidate kills the runner the
engine knows which job was running (and re-runs the others). Each finished job prints one line:
REPORT_PREFIX + json, with the job's events: test outcomes, `hack` flags (kind, event) from the
audit hook, and `not_plain` when a result was not plain data.

Every one of those lines is SIGNED (SIGNED_PREFIX + HMAC + line) by a signer process, and the
engine believes only lines whose MAC checks out under the key it made for this exec. Why: the
exec's stdout pipe is also held by the processes above the runner (the sandbox's timeout
wrapper: a shell and `timeout`, both dumpable), so a candidate's subprocess can open
/proc/<wrapper>/fd/1 and print a report line of its own — keys are guessable (`TASK#INDEX`) and
the engine took the first report per key, so that forged a pass. The key never enters the
runner's memory (which every candidate process is a fork of): the signer is forked before it
exists, reads the key file itself, deletes it, makes itself non-dumpable and only then lets the
runner start the first job; the runner reaches the signer through a pipe that every job process
closes first thing. Still possible: a candidate that opens the stdout pipe for reading can
swallow lines (its neighbours are then re-run, at worst reported as infra errors), never forge.
"""

import ast
import json
import os
import resource
import select
import shutil
import signal
import sys
import time

try:  # on the host, part of the package; in the sandbox, modules the engine's PROGRAM defined
    from . import guard, judge, wire
except ImportError:
    import codeagent_guard as guard
    import codeagent_judge as judge
    import codeagent_wire as wire

judge.bind(wire, guard)

JUDGED_WALL_FACTOR = 4
"""Judged jobs: the candidate process gets `timeout` seconds of CPU (an endless loop dies as fast
as before) and the job `timeout * JUDGED_WALL_FACTOR` of wall time, because every call is a round
trip between two processes and on a loaded machine those wait for the scheduler."""

REPORT_PREFIX = "@@codeagent-report "
START_PREFIX = "@@codeagent-start "
SIGNED_PREFIX = "@@codeagent-signed "
SIGNER_PID = None
SIGNER_ACK = None
SIGNER_FD = None
"""The write end of the pipe to the signer (set in `main`); closed in every forked job process."""
MESSAGE_CHARS = 400


def expected_tests(test_files):
    """(file, test name) pairs found statically, so a test that never ran counts as not-run."""
    out = []
    for path in sorted(test_files):
        try:
            tree = ast.parse(test_files[path])
        except SyntaxError:
            out.append((path, "<collect>"))
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                out.append((path, node.name))
    return out


def write_tree(root, files):
    for rel, content in files.items():
        full = os.path.join(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        if os.path.lexists(full):
            os.unlink(full)  # a candidate's symlink must not redirect a test file
        with open(full, "w", encoding="utf-8") as f:
            f.write(content)


def confine(job_dir, limits):
    """In a forked job process: own session, rlimits, stdin from /dev/null, output to a file."""
    os.setsid()
    mem = limits["memory_mb"] * 1024 * 1024
    for res, val in ((resource.RLIMIT_AS, mem), (resource.RLIMIT_CPU, limits["cpu_seconds"]),
                     (resource.RLIMIT_FSIZE, limits["fsize_mb"] * 1024 * 1024),
                     (resource.RLIMIT_NOFILE, 256), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(res, (val, val))
        except (ValueError, OSError):
            pass
    cap = os.open(os.path.join(job_dir, ".output"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(cap, 1)
    os.dup2(cap, 2)
    os.close(null)
    os.close(cap)
    os.chdir(job_dir)
    sys.dont_write_bytecode = True  # the job dir is thrown away: writing .pyc files is wasted work


def close_all_but(keep):
    last = 2
    for fd in sorted(keep) + [65536]:
        if fd > last + 1:
            os.closerange(last + 1, fd)
        last = max(last, fd)


def report_channel(wfd, token, also_keep=()):
    """The report pipe moved to an unpredictable fd, every other fd closed; returns emit(**event)."""
    # The channel sits at an unpredictable fd and every event carries a token: blind writes to
    # fds 3..N, or copying an event format, do not count.
    keep = 32 + int.from_bytes(os.urandom(2), "little") % 200  # below RLIMIT_NOFILE (256)
    while keep in also_keep:
        keep += 1
    os.dup2(wfd, keep)
    close_all_but({keep, *also_keep})
    out = os.fdopen(keep, "w", buffering=1)

    def emit(**event):
        event["token"] = token
        out.write(json.dumps(event) + "\n")

    return emit


def run_tests(test_files, emit):
    """Execute each test file as a module, then call its test_* functions, reporting outcomes."""
    for path in sorted(test_files):
        modname = os.path.splitext(os.path.basename(path))[0]
        try:
            code = compile(test_files[path], path, "exec")
            module = type(sys)(modname)
            module.__file__ = os.path.join(os.getcwd(), path)
            sys.modules[modname] = module
            exec(code, module.__dict__)
        except SyntaxError as e:
            kind = "syntax" if os.path.basename(e.filename or "") != os.path.basename(path) else "runtime"
            emit(file=path, collect_error=kind, message=f"{type(e).__name__}: {e}"[:MESSAGE_CHARS])
            continue
        except BaseException as e:  # noqa: BLE001 — candidate code may raise anything at import
            kind = "syntax" if isinstance(e, (SyntaxError, IndentationError)) else "runtime"
            emit(file=path, collect_error=kind, message=f"{type(e).__name__}: {e}"[:MESSAGE_CHARS])
            continue
        for name, fn in list(module.__dict__.items()):
            if not (name.startswith("test") and callable(fn) and getattr(fn, "__module__", None) == modname):
                continue
            try:
                fn()
                emit(file=path, test=name, outcome="passed")
            except AssertionError as e:
                emit(file=path, test=name, outcome="failed", message=f"AssertionError: {e}"[:MESSAGE_CHARS])
            except BaseException as e:  # noqa: BLE001
                emit(file=path, test=name, outcome="error", message=f"{type(e).__name__}: {e}"[:MESSAGE_CHARS])


def inprocess_main(job_dir, test_files, wfd, limits):
    """Runs in the forked child: the tests import the candidate in this same process."""
    confine(job_dir, limits)
    emit = report_channel(wfd, limits["token"])
    sys.path.insert(0, job_dir)
    sys.argv = ["test"]
    guard.install(lambda kind, event: emit(hack=kind, event=event),
                  [os.path.basename(p) for p in test_files], block=True)
    run_tests(test_files, emit)
    emit(done=True)
    os._exit(0)


def judged_main(job_dir, job, wfd, limits):
    """Runs in the forked child: this process is the judge; the candidate gets its own process."""
    confine(job_dir, limits)
    test_names = [os.path.basename(p) for p in job["test_files"]]
    c2j_r, c2j_w = os.pipe()
    j2c_r, j2c_w = os.pipe()
    pid = os.fork()  # before the judge holds anything worth stealing
    if pid == 0:
        try:
            cpu = limits["candidate_cpu"]
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU, then SIGKILL
            limits.clear()
            close_all_but({j2c_r, c2j_w})
            judge.candidate_main(job_dir, job["judge"], j2c_r, c2j_w, test_names)
        finally:
            os._exit(0)
    os.close(c2j_w)
    os.close(j2c_r)
    emit = report_channel(wfd, limits["token"], also_keep=(c2j_r, j2c_w))
    channel = judge.Channel(c2j_r, j2c_w, pid, lambda kind, event: emit(hack=kind, event=event),
                            lambda what: emit(not_plain=what))
    try:
        first = channel._read()
    except judge.CandidateDied as e:
        first = {"import_error": ["runtime", f"{e} while importing the solution"]}
    if "import_error" in first:
        kind, message = first["import_error"]
        for path in sorted(job["test_files"]):
            emit(file=path, collect_error="syntax" if kind == "syntax" else "runtime",
                 message=str(message)[:MESSAGE_CHARS])
    else:
        spec = job["judge"]
        try:
            sys.modules[spec["module"]] = judge.trusted_module(spec, job_dir, channel)
        except BaseException as e:  # noqa: BLE001 — the task's own prompt file: a harness problem
            emit(infra=f"the task's prompt file does not run: {type(e).__name__}: {e}"[:MESSAGE_CHARS])
        else:
            run_tests(job["test_files"], emit)
    if channel.dead is not None:
        try:
            _, status = os.waitpid(pid, 0)
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL):
                emit(cpu_timeout=True)  # the candidate used up its CPU seconds: an endless loop
        except OSError:
            pass
    emit(done=True)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    os._exit(0)


def ancestors():
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def reap_others(keep):
    """Kill every process of our uid that is not us or an ancestor (daemonized leftovers, bombs).

    Only used inside a private PID namespace, where 'every process' means this sandbox's.
    """
    uid = os.getuid()
    for _ in range(20):
        found = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in keep or entry == "1":
                continue
            try:
                if os.stat(f"/proc/{entry}").st_uid != uid:
                    continue
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue  # a zombie is already dead; its parent (init) reaps it
                os.kill(int(entry), signal.SIGKILL)
                found = True
            except OSError:
                pass
        if not found:
            return
        time.sleep(0.01)


def mac_of(key, text):
    import hashlib
    import hmac
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def start_signer(key_path, keep):
    """Fork the signer: it reads and deletes the key file, then signs each line the runner sends
    and writes it on the exec's stdout. Returns the pipe's write end once the key file is gone."""
    lines_r, lines_w = os.pipe()
    ready_r, ready_w = os.pipe()  # one byte once the key file is gone, then one per line written
    pid = os.fork()
    if pid == 0:
        try:
            os.close(lines_w)
            os.close(ready_r)
            try:  # non-dumpable before the key is read: no /proc/<signer>/mem, fd or environ for anyone
                import ctypes
                ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
            except Exception:  # noqa: BLE001
                pass
            with open(key_path, "rb") as f:
                key = bytes.fromhex(f.read().decode())
            os.unlink(key_path)
            os.write(ready_w, b"k")
            out = os.fdopen(1, "w", buffering=1)
            for line in os.fdopen(lines_r, "r", encoding="utf-8"):
                line = line.rstrip("\n")
                out.write(SIGNED_PREFIX + mac_of(key, line) + " " + line + "\n")
                out.flush()
                os.write(ready_w, b".")
        finally:
            os._exit(0)
    os.close(lines_r)
    os.close(ready_w)
    if os.read(ready_r, 1) != b"k":
        raise SystemExit("the signer could not read its key")
    keep.add(pid)
    global SIGNER_PID, SIGNER_ACK
    SIGNER_PID, SIGNER_ACK = pid, ready_r
    return lines_w


def say(report, line):
    """Have `line` signed and on the exec's stdout before going on: a START line must be out
    before its job runs (a job that kills everything must not take its own START with it)."""
    report.write(line + "\n")
    report.flush()
    if os.read(SIGNER_ACK, 1) != b".":
        raise SystemExit("the signer is gone")


def run_job(job, base, limits, reap_all, keep):
    job_dir = os.path.join(base, "job")
    shutil.rmtree(job_dir, ignore_errors=True)
    os.makedirs(job_dir)
    write_tree(job_dir, job["files"])
    if not job.get("judge"):  # judged: the tests stay in the judge's memory, never on disk
        write_tree(job_dir, job["test_files"])  # after the candidate's files: tests win
    expected = expected_tests(job["test_files"])
    timeout = float(job.get("timeout", 10.0))
    cpu_timeout = timeout
    if job.get("judge"):
        timeout *= JUDGED_WALL_FACTOR
    token = os.urandom(16).hex()
    limits = dict(limits, cpu_seconds=int(timeout) + 2, token=token, candidate_cpu=max(1, round(cpu_timeout)))
    rfd, wfd = os.pipe()
    start = time.monotonic()
    try:
        pid = os.fork()
    except OSError as e:
        os.close(rfd)
        os.close(wfd)
        return {"key": job["key"], "infra_error": f"fork failed: {e}"}
    if pid == 0:
        try:
            os.close(rfd)
            if SIGNER_FD is not None:  # before anything else runs here: only the runner may sign
                os.close(SIGNER_FD)
                os.close(SIGNER_ACK)
            if job.get("judge"):
                judged_main(job_dir, job, wfd, limits)
            else:
                inprocess_main(job_dir, job["test_files"], wfd, limits)
        finally:
            os._exit(70)
    os.close(wfd)
    buf, timed_out = b"", False
    deadline = start + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready, _, _ = select.select([rfd], [], [], left)
        if ready:
            chunk = os.read(rfd, 65536)
            if not chunk:
                break
            if len(buf) < 4 * 1024 * 1024:
                buf += chunk
    os.close(rfd)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    _, status = os.waitpid(pid, 0)
    duration = time.monotonic() - start
    if reap_all:
        reap_others(keep)
    events, done = [], False
    for line in buf.decode("utf-8", "replace").splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.pop("token", None) == token:
            done = done or ev.get("done") is True
            events.append(ev)
    try:
        with open(os.path.join(job_dir, ".output"), "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 1000))
            output_tail = f.read().decode("utf-8", "replace")
    except OSError:
        output_tail = ""
    shutil.rmtree(job_dir, ignore_errors=True)
    return {"key": job["key"], "expected": expected, "events": events, "done": done,
            "timed_out": timed_out, "exit_status": status, "duration": duration,
            "output_tail": output_tail}


def main():
    job_file = sys.argv[1]
    with open(job_file, encoding="utf-8") as f:
        spec = json.load(f)
    os.unlink(job_file)  # nothing a candidate could read or rewrite
    try:  # PR_SET_DUMPABLE=0: same-uid processes can no longer open /proc/<runner>/fd/*
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)
    except Exception:  # noqa: BLE001 — best effort; the fds are closed in children anyway
        pass
    base = spec["scratch"]
    os.makedirs(base, exist_ok=True)
    # Imported once here, inherited by every forked judge and candidate process: the guard needs
    # the first three, and tests and solutions import the rest all the time (~10 ms per job each).
    for name in ("collections", "enum", "typing", "math", "re", "itertools", "functools", "heapq",
                 "string", "hashlib", "marshal"):
        try:
            __import__(name)
        except ImportError:
            pass
    if any("doctest" in src for job in spec["jobs"] for src in job["test_files"].values()):
        import doctest  # noqa: F401 — the real one, before any candidate code (see guard._benign_tracers)
    keep = ancestors()
    global SIGNER_FD
    SIGNER_FD = start_signer(sys.argv[2], keep)
    report = os.fdopen(SIGNER_FD, "w", buffering=1)  # no dup: job processes close this one fd number
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)  # the runner itself no longer writes on the exec's stdout: only the signer does
    os.close(null)
    for job in spec["jobs"]:
        say(report, START_PREFIX + json.dumps(job["key"]))
        result = run_job(job, base, spec["limits"], spec.get("reap_all", False), keep)
        say(report, REPORT_PREFIX + json.dumps(result))
    report.close()
    try:  # the exec's wrapper kills every process once we exit: let the signer finish writing first
        os.waitpid(SIGNER_PID, 0)
    except (ChildProcessError, OSError):
        pass


if __name__ == "__main__":
    main()
