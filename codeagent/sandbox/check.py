"""Containment self-test: run hostile code in a backend and judge each case by evidence.

Backend-agnostic: every case opens its own sandbox through `open_sandbox` and uses only the
`Sandbox` protocol; the host side of the evidence (a listener on 127.0.0.1, a secret file, a
sentinel process, free disk, our own memory) lives in this process. A case is judged by what
happened on the host, not by the command's exit code alone.

A backend states what it does NOT claim to contain as `sandbox.isolation["not_contained"]`
(case names); a backend without `isolation` claims every case. `main_check` fails when the
harness was hurt or a claimed case escaped; unclaimed escapes are printed, honestly, as such.

Add a case: a function `(ctx) -> (contained, detail)` in `CASES`. Run one: `run_case(name, ctx)`.
"""

from __future__ import annotations

import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, TextIO

from . import Sandbox, SandboxLimits, open_sandbox

CHECK_LIMITS = SandboxLimits(timeout_s=10, memory_mb=256, cpu_seconds=20, pids=64, disk_mb=64,
                             tmp_mb=32, output_bytes=1 << 20)
"""Small limits so that every bomb ends fast; pass others to `run_checks` to check yours."""
TOKEN_ENV = "CODEAGENT_CHECK_TOKEN"
"""Set on every command of a run: a process carrying it after the run is a leftover."""
HARNESS_GROWTH_MB = 256
"""The harness's peak memory may grow this much over a whole run (a GB of output must not land here)."""


@dataclass
class CheckResult:
    case: str
    contained: bool
    detail: str
    claimed: bool = True
    """Whether the backend claims to contain this case (see the module doc)."""
    duration: float = 0.0


@dataclass
class CheckContext:
    """What a case needs: how to open a sandbox, and the host-side evidence it may look at."""

    backend: str
    limits: SandboxLimits
    hostdir: Path
    """A host folder (0755, root of nothing in the sandbox) holding this run's bait files."""
    token: str
    sentinel: subprocess.Popen | None = None
    workdirs: list[str] = field(default_factory=list)

    def open(self) -> Sandbox:
        sb = open_sandbox(self.backend, {"README.md": "containment check\n"}, self.limits)
        self.workdirs.append(sb.workdir)
        return sb

    def exec(self, sb: Sandbox, cmd: str, timeout: float | None = None):
        return sb.exec(cmd, timeout=timeout, env={TOKEN_ENV: self.token})


Case = Callable[[CheckContext], "tuple[bool, str]"]


def _works(ctx: CheckContext, sb: Sandbox) -> tuple[bool, str]:
    """Does the sandbox still run a command, or can a fresh one be opened (cleanly replaced)?"""
    r = ctx.exec(sb, "echo still-alive", timeout=20)
    if "still-alive" in r.stdout:
        return True, "sandbox still works"
    with ctx.open() as fresh:
        r2 = ctx.exec(fresh, "echo still-alive", timeout=20)
    return "still-alive" in r2.stdout, f"sandbox broken ({r.error or r.exit_code}); a fresh one " + (
        "works" if "still-alive" in r2.stdout else "FAILS too")


def _bounded(r, timeout: float) -> bool:
    return r.duration < timeout + 15


# -- cases ---------------------------------------------------------------------------------------
def fork_bomb(ctx: CheckContext) -> tuple[bool, str]:
    with ctx.open() as sb:
        r = ctx.exec(sb, "f() { f | f & }; f; sleep 30", timeout=5)
        host_fork = subprocess.run(["true"], timeout=30).returncode == 0
        ok, how = _works(ctx, sb)
    return (_bounded(r, 5) and host_fork and ok,
            f"returned after {r.duration:.1f}s (timed_out={r.timed_out}); host can fork: {host_fork}; {how}")


def memory_bomb(ctx: CheckContext) -> tuple[bool, str]:
    limit = ctx.limits.memory_mb
    prog = ("import sys\nchunks = []\n"
            f"while len(chunks) * 16 < {4 * limit}:\n"
            "    chunks.append(b'\\x01' * (16 << 20))\n"
            "    print(len(chunks) * 16, flush=True)\n"
            "print('ALLOCATED-ALL', flush=True)\n")
    with ctx.open() as sb:
        r = ctx.exec(sb, f"python3 -c \"{prog}\"", timeout=30)
        ok, how = _works(ctx, sb)
    got = max([int(x) for x in r.stdout.split() if x.isdigit()] or [0])
    contained = "ALLOCATED-ALL" not in r.stdout and got <= limit + 64 and _bounded(r, 30) and ok
    return contained, f"allocated up to {got} MB of {limit} MB allowed, then exit {r.exit_code}; {how}"


def cpu_loop(ctx: CheckContext) -> tuple[bool, str]:
    with ctx.open() as sb:
        r = ctx.exec(sb, "python3 -c 'while True: pass'", timeout=3)
        ok, how = _works(ctx, sb)
    stopped = r.timed_out or r.exit_code not in (0, None)
    return stopped and _bounded(r, 3) and ok, f"stopped after {r.duration:.1f}s (timed_out={r.timed_out}); {how}"


def sleep_timeout(ctx: CheckContext) -> tuple[bool, str]:
    with ctx.open() as sb:
        r = ctx.exec(sb, "sleep 60; echo WOKE", timeout=2)
    contained = r.timed_out and "WOKE" not in r.stdout and r.duration < 2 + 10
    return contained, f"timed_out={r.timed_out} after {r.duration:.1f}s"


def network(ctx: CheckContext) -> tuple[bool, str]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(5)
    srv.settimeout(0.2)
    port, accepted, stop = srv.getsockname()[1], [], threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                accepted.append(conn.recv(64))
                conn.close()
            except (socket.timeout, OSError):
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    prog = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "s.sendall(b'escaped'); print('CONNECTED')")
    try:
        with ctx.open() as sb:
            r = ctx.exec(sb, f"python3 -c \"{prog}\"", timeout=15)
    finally:
        time.sleep(0.3)
        stop.set()
        t.join(2)
        srv.close()
    contained = not accepted and "CONNECTED" not in r.stdout
    why = r.stderr.strip().splitlines()[-1:] or [""]
    return contained, (f"host listener on 127.0.0.1:{port} got {len(accepted)} connection(s); "
                       f"sandbox said: {why[0][:120]}")


def host_read(ctx: CheckContext) -> tuple[bool, str]:
    secret = secrets.token_hex(16)
    bait = ctx.hostdir / "secret.txt"
    bait.write_text(secret)
    bait.chmod(0o600)
    shadow = _head(Path("/etc/shadow"))
    with ctx.open() as sb:
        r = ctx.exec(sb, f"cat {bait}; cat /etc/shadow; ls /root", timeout=15)
    out = r.stdout + r.stderr
    leaked = [name for name, s in (("0600 secret", secret), ("/etc/shadow", shadow)) if s and s in out]
    return not leaked, f"leaked: {', '.join(leaked)}" if leaked else "0600 secret and /etc/shadow not readable"


def host_read_world_readable(ctx: CheckContext) -> tuple[bool, str]:
    host = Path("/etc/passwd").read_text(errors="replace")
    with ctx.open() as sb:
        r = ctx.exec(sb, "cat /etc/passwd", timeout=15)
    same = r.stdout == host
    return not same, ("the host's /etc/passwd is readable (world-readable host files are visible)" if same
                      else "the host's /etc/passwd is not what the sandbox sees")


def host_write(ctx: CheckContext) -> tuple[bool, str]:
    name = f"codeagent-pwned-{ctx.token}"
    targets = [ctx.hostdir / name, Path("/root") / name, Path("/tmp") / name, Path("/var/tmp") / name]
    with ctx.open() as sb:
        ctx.exec(sb, " ; ".join(f"echo x > {t}" for t in targets), timeout=15)
    written = [str(t) for t in targets if t.exists()]
    for t in written:
        Path(t).unlink(missing_ok=True)
    return not written, f"created on the host: {', '.join(written)}" if written else \
        f"no file created in {', '.join(str(t.parent) for t in targets)}"


def kill_all(ctx: CheckContext) -> tuple[bool, str]:
    with ctx.open() as sb:
        r = ctx.exec(sb, "kill -9 -1; echo done", timeout=15)
        sentinel_alive = ctx.sentinel is not None and ctx.sentinel.poll() is None
        ok, how = _works(ctx, sb)
    return sentinel_alive and ok, (f"exec returned (exit {r.exit_code}); host sentinel process "
                                   f"{'alive' if sentinel_alive else 'KILLED'}; {how}")


def output_flood(ctx: CheckContext) -> tuple[bool, str]:
    before = _maxrss_mb()
    with ctx.open() as sb:
        r = ctx.exec(sb, "head -c 1073741824 /dev/zero | tr '\\0' x", timeout=120)
    grew = _maxrss_mb() - before
    cap = ctx.limits.output_bytes
    contained = r.output_truncated and len(r.stdout.encode()) <= cap and grew < 64 + 4 * cap / 2**20
    return contained, (f"kept {len(r.stdout)} bytes (cap {cap}), truncated={r.output_truncated}, "
                       f"{r.duration:.1f}s, harness peak memory +{grew:.0f} MB")


def daemon(ctx: CheckContext) -> tuple[bool, str]:
    loop = "while :; do echo x >> {f}; sleep 0.1; done"
    cmd = (f"nohup sh -c '{loop.format(f='nohup.log')}' >/dev/null 2>&1 & "
           f"setsid sh -c '{loop.format(f='setsid.log')}' >/dev/null 2>&1 < /dev/null & "
           "python3 -c \"import os,subprocess\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
           "        subprocess.Popen(['sh', '-c', '" + loop.format(f="fork.log") + "'], stdin=subprocess.DEVNULL,"
           " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)\n\"; sleep 0.5; echo started")
    files = ("nohup.log", "setsid.log", "fork.log")
    with ctx.open() as sb:
        r = ctx.exec(sb, cmd, timeout=15)
        ctx.exec(sb, "true", timeout=15)
        first = {f: _size(sb, f) for f in files}
        time.sleep(1.0)
        second = {f: _size(sb, f) for f in files}
    grew = [f for f in files if second[f] > first[f]]
    started = [f for f in files if first[f] > 0]
    return not grew, (f"exec returned after {r.duration:.1f}s; daemons that wrote before the end: "
                      f"{', '.join(started) or 'none'}; still writing after it: {', '.join(grew) or 'none'}")


def disk_fill(ctx: CheckContext) -> tuple[bool, str]:
    free0 = shutil.disk_usage(tempfile.gettempdir()).free
    n = 4 * ctx.limits.disk_mb
    with ctx.open() as sb:
        r = ctx.exec(sb, f"dd if=/dev/zero of=big bs=1M count={n} 2>&1; ls -l big", timeout=60)
        size = _size(sb, "big")
        free1 = shutil.disk_usage(tempfile.gettempdir()).free
        ok, how = _works(ctx, sb)
    used_mb = (free0 - free1) / 2**20
    contained = size <= ctx.limits.disk_mb << 20 and ok
    return contained, f"one file reached {size >> 20} MB of {n} MB tried (limit {ctx.limits.disk_mb} MB); " \
                      f"host free space -{max(0, used_mb):.0f} MB; {how}"


def disk_fill_many_files(ctx: CheckContext) -> tuple[bool, str]:
    limit = ctx.limits.disk_mb
    n = 4 * limit // 16  # stop at 4x the limit: enough to show an escape, not to fill the host
    with ctx.open() as sb:
        ctx.exec(sb, f"i=0; while [ $i -lt {n} ]; do dd if=/dev/zero of=f$i bs=1M count=16 2>/dev/null "
                     "|| break; i=$((i+1)); done", timeout=60)
        r = ctx.exec(sb, "du -sm . | cut -f1", timeout=30)
        ctx.exec(sb, "rm -f f*", timeout=30)
    total = int(r.stdout.strip() or 0) if r.stdout.strip().isdigit() else -1
    return 0 <= total <= limit + 16, f"wrote {total} MB in 16 MB files (limit {limit} MB, stopped at {4 * limit})"


def leftovers(ctx: CheckContext) -> tuple[bool, str]:
    """Run last: no process of this run alive, no sandbox folder left on the host."""
    pids = _pids_with_token(ctx.token)
    dirs = [d for d in ctx.workdirs if d.startswith(tempfile.gettempdir()) and os.path.exists(d)]
    contained = not pids and not dirs
    return contained, (f"{len(pids)} leftover process(es) {pids[:10]}; {len(dirs)} leftover work dir(s) {dirs[:3]}"
                       if not contained else f"no leftover process or work dir after {len(ctx.workdirs)} sandboxes")


CASES: dict[str, Case] = {
    "fork_bomb": fork_bomb, "memory_bomb": memory_bomb, "cpu_loop": cpu_loop,
    "sleep_timeout": sleep_timeout, "network": network, "host_read": host_read,
    "host_read_world_readable": host_read_world_readable, "host_write": host_write,
    "kill_all": kill_all, "output_flood": output_flood, "daemon": daemon, "disk_fill": disk_fill,
    "disk_fill_many_files": disk_fill_many_files, "leftovers": leftovers,
}


# -- running -------------------------------------------------------------------------------------
def run_case(name: str, ctx: CheckContext) -> CheckResult:
    """Run one case; a harness-side exception is an escape (the harness was hurt), not a crash."""
    if name not in CASES:
        raise ValueError(f"unknown check case {name!r}; known: {', '.join(CASES)}")
    start = time.monotonic()
    try:
        contained, detail = CASES[name](ctx)
    except Exception as e:  # noqa: BLE001 - the check reports, it must not die with the case
        contained, detail = False, f"harness error: {type(e).__name__}: {e}"
    return CheckResult(name, bool(contained), detail, duration=time.monotonic() - start)


def run_checks(backend_name: str, limits: SandboxLimits | None = None,
               cases: list[str] | None = None) -> list[CheckResult]:
    """Run `cases` (default: all, `leftovers` last) against a backend; results in order."""
    names = list(cases or CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise ValueError(f"unknown check case(s) {unknown}; known: {', '.join(CASES)}")
    names = [n for n in names if n != "leftovers"] + (["leftovers"] if "leftovers" in names else [])
    hostdir = Path(tempfile.mkdtemp(prefix="codeagent-check-"))
    hostdir.chmod(0o755)  # only the bait files' own modes protect them
    sentinel = subprocess.Popen(["sleep", "3600"], start_new_session=True)
    ctx = CheckContext(backend_name, limits or CHECK_LIMITS, hostdir, secrets.token_hex(8), sentinel)
    try:
        with ctx.open() as probe_sb:
            unclaimed = set(getattr(probe_sb, "isolation", {}).get("not_contained", []))
        results = []
        for name in names:
            res = run_case(name, ctx)
            res.claimed = name not in unclaimed
            results.append(res)
        return results
    finally:
        sentinel.kill()
        sentinel.wait()
        shutil.rmtree(hostdir, ignore_errors=True)


def main_check(backend: str, out: "str | os.PathLike | TextIO | None" = None,
               limits: SandboxLimits | None = None) -> int:
    """Print one JSON line per case and a summary; non-zero if the harness was hurt or a case
    the backend claims to contain escaped. `out`: a path to also write the results to (JSON),
    or a stream to print to instead of stdout."""
    stream = out if hasattr(out, "write") else sys.stdout
    start_rss = _maxrss_mb()
    results = run_checks(backend, limits)
    for r in results:
        print(json.dumps({"case": r.case, "contained": r.contained, "claimed": r.claimed, "detail": r.detail,
                          "duration_s": round(r.duration, 2)}), file=stream, flush=True)
    escaped_claimed = [r.case for r in results if not r.contained and r.claimed]
    not_contained = [r.case for r in results if not r.contained and not r.claimed]
    harness_ok = _maxrss_mb() - start_rss < HARNESS_GROWTH_MB and not any(
        r.detail.startswith("harness error") for r in results)
    summary = {"summary": True, "backend": backend, "cases": len(results),
               "contained": sum(r.contained for r in results), "escaped": escaped_claimed,
               "not_contained_by_design": not_contained, "harness_ok": harness_ok}
    print(json.dumps(summary), file=stream, flush=True)
    if out is not None and not hasattr(out, "write"):
        Path(out).write_text(json.dumps({"results": [asdict(r) for r in results], **summary}, indent=2))
    return 0 if harness_ok and not escaped_claimed else 1


# -- host-side evidence --------------------------------------------------------------------------
def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _head(path: Path) -> str:
    try:
        return path.read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return ""


def _size(sb: Sandbox, rel: str) -> int:
    try:
        return len(sb.read_file(rel))
    except (FileNotFoundError, OSError):
        return 0


def _pids_with_token(token: str) -> list[int]:
    needle = f"{TOKEN_ENV}={token}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found
