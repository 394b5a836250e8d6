"""Run one child process with a wall deadline and bounded output capture, killing it when asked.

Used by the `local` backend. One selector loop in the calling thread drains both pipes, so
the child never blocks on a full pipe and the harness never blocks on a child: output past the
cap is read and dropped, output past `ABSURD_FACTOR` times the cap kills the child, and a
descendant that keeps a pipe open after the child exited only delays the end by `DRAIN_GRACE_S`.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ABSURD_FACTOR = 64
"""Output beyond this many times the per-stream cap is a flood: the child is killed."""
DRAIN_GRACE_S = 2.0
"""How long pipes may stay open after the child is gone (a leaked descendant holds them)."""
READ_CHUNK = 1 << 16


@dataclass
class Captured:
    """Raw outcome of `run_capped`; the backend turns it into an ExecResult."""

    returncode: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    flooded: bool
    truncated: bool
    duration: float


def run_capped(argv: list[str], *, cwd: str, env: dict[str, str], timeout: float, cap: int,
               kill: Callable[[subprocess.Popen], None]) -> Captured:
    """Start `argv` in its own session and collect at most `cap` bytes of each stream.

    `kill(proc)` must end the child and every process it made; it is called on timeout, on an
    output flood, and once after the child exits (to reap daemons it left behind).
    """
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, close_fds=True)
    bufs = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    seen = dict.fromkeys(bufs, 0)
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    deadline = start + timeout
    timed_out = flooded = killed = False
    ended_at: float | None = None  # when the child was gone or killed
    try:
        while sel.get_map():
            now = time.monotonic()
            if not killed and now >= deadline:
                timed_out = killed = True
                kill(proc)
                ended_at = now
            if ended_at is None and proc.poll() is not None:
                ended_at = now
                kill(proc)  # daemons of an exited child must not hold the pipes (or live on)
            if ended_at is not None and now - ended_at > DRAIN_GRACE_S:
                break
            wait = 0.1 if ended_at is not None else max(0.0, min(deadline - now, 0.25))
            for key, _ in sel.select(wait):
                fd = key.fd
                try:
                    data = os.read(fd, READ_CHUNK)
                except BlockingIOError:
                    continue
                if not data:
                    sel.unregister(fd)
                    continue
                seen[fd] += len(data)
                room = cap - len(bufs[fd])
                if room > 0:
                    bufs[fd] += data[:room]
                if seen[fd] > cap * ABSURD_FACTOR and not killed:
                    flooded = killed = True
                    kill(proc)
                    ended_at = time.monotonic()
        if proc.poll() is None:
            kill(proc)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - kill() failed; do not hang the harness
            proc.kill()
            proc.wait(timeout=10)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    fds = list(bufs)
    return Captured(
        returncode=None if (timed_out or flooded) else proc.returncode,
        stdout=bytes(bufs[fds[0]]), stderr=bytes(bufs[fds[1]]),
        timed_out=timed_out, flooded=flooded,
        truncated=flooded or any(seen[fd] > cap for fd in fds),
        duration=time.monotonic() - start)


def pids_of_uid(uid: int) -> list[int]:
    """Processes whose real uid is `uid` (read from /proc; vanished ones are skipped)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("Uid:"):
                    if int(line.split()[1]) == uid:
                        pids.append(int(entry.name))
                    break
        except (OSError, ValueError):
            continue
    return pids


def kill_uid(uid: int, rounds: int = 5) -> int:
    """SIGKILL every process of `uid` until none is left (forking ones need a few rounds).

    Returns how many were still alive after the last round. Only for a uid owned by one sandbox.
    """
    if uid == 0 or uid == os.getuid():
        raise ValueError(f"refusing to kill every process of uid {uid}")
    left = pids_of_uid(uid)
    for _ in range(rounds):
        if not left:
            return 0
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
        left = [p for p in pids_of_uid(uid) if _not_zombie(p)]
    return len(left)


def _not_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the child's process group (its session leader's group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
