"""The `docker` backend: each sandbox is one long-lived container, commands run with `exec`.

Isolation: no network, read-only root fs, size-bounded tmpfs for /work and /tmp, uid 1000,
every capability dropped, no-new-privileges, cgroup memory (no swap), CPU and pids limits.

Process hygiene. Every exec ends by killing every process of the sandbox uid (`kill -9 -1` run
as that uid), so a daemonized child can never outlive the exec that started it, and a timed-out
exec loses its whole tree. `kill(-1)` never signals PID 1 of the namespace, so PID 1 is our own
tiny reaper running as the same uid: docker's init (tini) is not used because it exits as soon as
its single child dies, and `kill -9 -1` would kill that child and so the container.
Because of this, execs of one sandbox are serialised.

Containers are always removed: `close()`/`with`, atexit, SIGTERM/SIGINT, and at start any
container whose owner process (label `codeagent.owner_pid`) on this host is gone.
"""

from __future__ import annotations

import atexit
import io
import os
import signal
import socket
import struct
import tarfile
import threading
import time
from typing import Mapping

from .base import (GIT_DIFF, GIT_INIT, ExecResult, SandboxError, SandboxLimits, Snapshot,
                   check_relative_path, snapshot_files)
from .image import image_exists, image_tag

WORKDIR = "/work"
USER = "1000:1000"
LABEL = "codeagent.sandbox"
HOST = socket.gethostname()
EXEC_GRACE_S = 5.0
"""How long past its timeout an exec's stream may stay open before the harness kills it itself."""
HARNESS_OUTPUT_BYTES = 1 << 30
"""Output kept for the harness's own reads (read_file, diff): bounded by the tmpfs anyway."""

# PID 1: reaps orphans (they are re-parented to it). It installs no signal handler, so nothing
# inside the namespace can signal it (the kernel drops such signals to init); SIGCHLD is blocked
# and waited for, which has no race between "no child left" and "sleep".
REAPER = ("import os,signal\n"
          "signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGCHLD])\n"
          "while True:\n"
          "    try:\n"
          "        while os.waitpid(-1, os.WNOHANG)[0]:\n"
          "            pass\n"
          "    except ChildProcessError:\n"
          "        pass\n"
          "    signal.sigtimedwait([signal.SIGCHLD], 60)\n")
# Runs every command: bounded by `timeout` (kills its process group), then kills every process
# of the uid that is left (daemons, setsid escapes). `kill` is a builtin: needs no free pid.
WRAPPER = 't=$1; shift; timeout -s KILL "$t" "$@"; rc=$?; kill -9 -1 2>/dev/null; exit $rc'
KILL_ALL = "for i in 1 2 3; do kill -9 -1 2>/dev/null || exit 0; done"
# One exec that makes a used container fresh: kill, empty /work, /tmp and /dev/shm, untar stdin, git init.
# chmod first: a candidate may have left read-only folders that would keep their contents alive.
RESET = ("kill -9 -1 2>/dev/null; chmod -R u+rwX /work /tmp /dev/shm 2>/dev/null; "
         "find /work /tmp /dev/shm -mindepth 1 -delete 2>/dev/null; "
         "if find /work /tmp /dev/shm -mindepth 1 | grep -q .; then "
         "echo 'files survived the reset' >&2; exit 45; fi; "
         f"cd {WORKDIR} && tar -x -f - && {GIT_INIT}")

_client = None
_client_lock = threading.Lock()
_live: dict[str, object] = {}  # container id -> container, removed at exit/signal
_live_lock = threading.RLock()  # re-entrant: signal handlers take it in the main thread
_atexit_installed = _signals_installed = False
_stale_cleaned = False


def _daemon_url() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def docker_client():
    """The process-wide docker client. Raises SandboxError when no daemon answers."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                import docker
                client = docker.from_env(timeout=120, max_pool_size=64)
                client.ping()
            except Exception as e:  # noqa: BLE001 — any failure here means "no usable daemon"
                raise SandboxError(f"Docker daemon not reachable at {_daemon_url()} ({type(e).__name__}); "
                                   "start it with `dockerd &` or use --backend local") from None
            _client = client
    install_cleanup_hooks()
    return _client


def docker_status() -> tuple[bool, str]:
    """(usable, why) for `resolve_backend("auto")` and `codeagent sandbox status`."""
    try:
        client = docker_client()
    except SandboxError as e:
        return False, str(e)
    tag = image_tag()
    if not image_exists(client, tag):
        return False, f"Docker daemon is up but image {tag} is missing; build it with `codeagent sandbox build`"
    return True, f"Docker daemon at {_daemon_url()} and image {tag} are ready"


def open_docker_sandbox(snapshot: Snapshot, limits: SandboxLimits, *, image: str | None = None) -> "DockerSandbox":
    """Start a container holding `snapshot` as a fresh git repository at /work."""
    files = snapshot_files(snapshot)  # validate before starting anything
    box = DockerSandbox(limits, image=image)
    try:
        box.reset(files)
    except BaseException:
        box.close()
        raise
    return box


class DockerSandbox:
    """One container. Use `open_docker_sandbox`; `reset()` lets a pool reuse it for a new snapshot."""

    backend = "docker"
    workdir = WORKDIR
    isolates_pids = True

    def __init__(self, limits: SandboxLimits, image: str | None = None):
        self.limits = limits
        self.image = image or image_tag()
        self.broken: str | None = None
        """Why the container can no longer be trusted (a pool then replaces it)."""
        self._lock = threading.Lock()
        self._client = docker_client()
        install_cleanup_hooks()
        _clean_stale(self._client)
        if not image_exists(self._client, self.image):
            raise SandboxError(f"sandbox image {self.image} not found; build it with `codeagent sandbox build`")
        self.container = self._start()
        self.id = self.container.id

    def _start(self):
        import docker.types
        lim = self.limits
        kwargs = dict(
            image=self.image, command=["python3", "-I", "-S", "-c", REAPER], detach=True,
            user=USER, working_dir=WORKDIR, network_mode="none", read_only=True,
            tmpfs={WORKDIR: f"rw,exec,nosuid,nodev,size={lim.disk_mb}m,uid=1000,gid=1000,mode=0755",
                   "/tmp": f"rw,exec,nosuid,nodev,size={lim.tmp_mb}m,mode=1777"},
            cap_drop=["ALL"], security_opt=["no-new-privileges"],
            mem_limit=f"{lim.memory_mb}m", memswap_limit=f"{lim.memory_mb}m",
            nano_cpus=int(lim.cpus * 1e9), pids_limit=lim.pids, shm_size=f"{min(lim.tmp_mb, 64)}m",
            ulimits=[docker.types.Ulimit(name="cpu", soft=lim.cpu_seconds, hard=lim.cpu_seconds),
                     docker.types.Ulimit(name="core", soft=0, hard=0)],
            labels={LABEL: "1", "codeagent.owner_pid": str(os.getpid()), "codeagent.owner_host": HOST},
            environment={"HOME": "/tmp"},
        )
        try:
            container = self._client.containers.create(**kwargs)
        except Exception as e:  # noqa: BLE001
            raise SandboxError(f"could not create a sandbox container from {self.image}: {e}") from None
        with _live_lock:
            _live[container.id] = container
        try:
            container.start()
        except Exception as e:  # noqa: BLE001
            _remove(container)
            raise SandboxError(f"could not start a sandbox container from {self.image}: {e}") from None
        return container

    # -- the Sandbox protocol ---------------------------------------------------------------
    def exec(self, cmd: str | list[str], timeout: float | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        if not argv:
            return ExecResult(exit_code=None, stdout="", stderr="", error="empty command")
        res = self._exec_raw(argv, timeout or self.limits.timeout_s, env, self.limits.output_bytes)
        if res.exit_code == 127 and not res.timed_out and _not_found(res.stderr):
            res.error = f"command not found: {argv[0] if not isinstance(cmd, str) else cmd.split()[0]}"
        return res

    def write_files(self, files: Mapping[str, str | bytes]) -> None:
        data = {check_relative_path(p): (c.encode() if isinstance(c, str) else bytes(c)) for p, c in files.items()}
        res = self._exec_raw(["tar", "-x", "-f", "-"], self.limits.timeout_s, None, 1 << 16, stdin=_tar(data))
        if res.exit_code != 0:
            raise SandboxError(f"writing files into the sandbox failed: {(res.error or res.stderr).strip()}")

    def read_file(self, path: str) -> bytes:
        rel = check_relative_path(path)
        res = self._exec_raw(["sh", "-c", 'test -f "$1" || exit 44; exec cat -- "$1"', "read_file", rel],
                             self.limits.timeout_s, None, HARNESS_OUTPUT_BYTES, binary=True)
        if res.exit_code == 44:
            raise FileNotFoundError(f"{WORKDIR}/{rel} (in sandbox)")
        if res.exit_code != 0:
            raise SandboxError(f"reading {rel} from the sandbox failed: {res.error or res.stderr.strip()}")
        return res.stdout  # type: ignore[return-value]  # bytes: binary=True

    def diff(self) -> str:
        res = self._exec_raw(["sh", "-c", GIT_DIFF], self.limits.timeout_s, None, HARNESS_OUTPUT_BYTES)
        if res.exit_code != 0:
            raise SandboxError(f"git diff in the sandbox failed: {res.error or res.stderr.strip()}")
        return res.stdout

    def reset(self, snapshot: Snapshot) -> None:
        """Make this container fresh with `snapshot` in one exec (kill, empty, untar, git init)."""
        data = _tar(snapshot_files(snapshot))
        res = self._exec_raw(["sh", "-c", RESET], max(self.limits.timeout_s, 60.0), None, 1 << 16, stdin=data,
                             wrap=False)
        if res.exit_code != 0:
            self.broken = f"reset failed: {res.error or res.stderr.strip()[-500:]}"
            raise SandboxError(f"could not load the snapshot into the sandbox: {self.broken}")

    def alive(self) -> bool:
        try:
            self.container.reload()
            return self.container.status == "running" and self.broken is None
        except Exception:  # noqa: BLE001 — gone or daemon trouble: not usable either way
            return False

    def close(self) -> None:
        _remove(self.container)

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- exec plumbing ----------------------------------------------------------------------
    def _exec_raw(self, argv: list[str], timeout: float, env: Mapping[str, str] | None, cap: int,
                  stdin: bytes | None = None, binary: bool = False, wrap: bool = True) -> ExecResult:
        """Run `argv`; `wrap=False` skips the timeout/kill wrapper (for RESET, which kills first)."""
        with self._lock:
            t0 = time.monotonic()
            api = self._client.api
            try:
                full = ["sh", "-c", WRAPPER, "wrapper", f"{timeout:.3f}", *argv] if wrap else argv
                eid = api.exec_create(self.id, full,
                                      stdout=True, stderr=True, stdin=stdin is not None, user=USER,
                                      workdir=WORKDIR, environment=dict(env or {}))["Id"]
                sock = api.exec_start(eid, socket=True)
            except Exception as e:  # noqa: BLE001 — daemon refused (e.g. container died, pids full)
                self.broken = f"exec failed: {e}"
                return ExecResult(exit_code=None, stdout="", stderr="", duration=time.monotonic() - t0,
                                  error=f"sandbox exec failed: {e}")
            raw = getattr(sock, "_sock", sock)
            reader = _StreamReader(raw, cap)
            reader.start()
            if stdin is not None:
                _send(raw, stdin)
            reader.join(timeout + EXEC_GRACE_S)
            stuck = reader.is_alive()
            if stuck:  # something kept the stream open past the deadline: kill it all ourselves
                self._kill_all()
                reader.join(EXEC_GRACE_S)
                if reader.is_alive():
                    self.broken = "exec stream did not close after killing every sandbox process"
            _close(raw)
            duration = time.monotonic() - t0
            code = _exit_code(api, eid)
            timed_out = stuck or (code == 137 and duration >= timeout)
            if code in (None, 137) or timed_out:
                self._kill_all()  # the wrapper itself may have been killed before its own cleanup
            out, err = bytes(reader.out), bytes(reader.err)
            return ExecResult(
                exit_code=None if timed_out else code,
                stdout=out if binary else out.decode("utf-8", "replace"),  # type: ignore[arg-type]
                stderr=err.decode("utf-8", "replace"), timed_out=timed_out, duration=duration,
                output_truncated=reader.truncated,
                error=f"timed out after {timeout:g}s; every process was killed" if timed_out else None)

    def _kill_all(self) -> None:
        api = self._client.api
        for attempt in range(3):
            try:
                eid = api.exec_create(self.id, ["sh", "-c", KILL_ALL], user=USER)["Id"]
                api.exec_start(eid)
                return
            except Exception as e:  # noqa: BLE001 — pids exhausted right now: retry shortly
                if attempt == 2:
                    self.broken = f"could not kill leftover processes: {e}"
                time.sleep(0.2)


def _exit_code(api, exec_id: str) -> int | None:
    """The exec's exit code; the daemon may record it a moment after the stream closes."""
    for _ in range(20):
        try:
            info = api.exec_inspect(exec_id)
        except Exception:  # noqa: BLE001 — the container is gone: no exit code to report
            return None
        if not info.get("Running"):
            return info.get("ExitCode")
        time.sleep(0.05)
    return None


class _StreamReader(threading.Thread):
    """Drains docker's multiplexed exec stream, keeping at most `cap` bytes per stream."""

    def __init__(self, sock, cap: int):
        super().__init__(daemon=True)
        self.sock, self.cap = sock, cap
        self.out, self.err = bytearray(), bytearray()
        self.truncated = False

    def run(self) -> None:
        buf = bytearray()
        need_header, kind, left = True, 1, 0
        while True:
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                return
            if not chunk:
                return
            view, i = memoryview(chunk), 0
            while i < len(view):
                if need_header:  # 8 bytes: stream (1=out, 2=err), 3 zero bytes, big-endian size
                    take = min(8 - len(buf), len(view) - i)
                    buf += view[i:i + take]
                    i += take
                    if len(buf) < 8:
                        break
                    kind, left = buf[0], struct.unpack(">I", bytes(buf[4:8]))[0]
                    buf.clear()
                    need_header = left == 0
                    continue
                take = min(left, len(view) - i)
                target = self.err if kind == 2 else self.out
                room = self.cap - len(target)
                if room > 0:
                    target += view[i:i + min(take, room)]
                if take > room:
                    self.truncated = True
                i += take
                left -= take
                need_header = left == 0


def _tar(files: Mapping[str, bytes]) -> bytes:
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), 0o644, 0
            info.uid = info.gid = 1000
            tar.addfile(info, io.BytesIO(content))
    return bio.getvalue()


def _send(sock, data: bytes) -> None:
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)  # EOF on the command's stdin
    except OSError:
        pass  # the command exited without reading it all; its exit code tells the story


def _close(sock) -> None:
    try:
        sock.close()
    except OSError:
        pass


def _not_found(stderr: str) -> bool:
    return "not found" in stderr or "No such file or directory" in stderr or "failed to run command" in stderr


# -- cleanup: always remove our containers ---------------------------------------------------
def _remove(container) -> None:
    with _live_lock:
        _live.pop(container.id, None)
    try:
        container.remove(force=True)
    except Exception as e:  # noqa: BLE001
        if "No such container" in str(e) or "is already in progress" in str(e) or "404" in str(e):
            return
        raise SandboxError(f"could not remove sandbox container {container.id[:12]}: {e}") from None


def remove_all() -> None:
    """Remove every container this process started (atexit and signal handlers call this)."""
    with _live_lock:
        containers = list(_live.values())
    for c in containers:
        try:
            _remove(c)
        except SandboxError:
            pass  # at exit the daemon may be gone; the next start cleans stale containers


def install_cleanup_hooks() -> None:
    """Remove our containers at exit and on SIGTERM/SIGINT. Idempotent.

    Signal handlers can only be set from the main thread, so this is called wherever the main
    thread passes (client creation, sandbox start, `SandboxPool()`); atexit covers the rest.
    """
    global _atexit_installed, _signals_installed
    with _live_lock:
        if not _atexit_installed:
            _atexit_installed = True
            atexit.register(remove_all)
        if _signals_installed or threading.current_thread() is not threading.main_thread():
            return
        _signals_installed = True
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)

        def handler(signum, frame, previous=previous):
            remove_all()
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
        signal.signal(sig, handler)


def _clean_stale(client) -> None:
    """Remove containers left by harness processes on this host that died (e.g. SIGKILL)."""
    global _stale_cleaned
    with _live_lock:
        if _stale_cleaned:
            return
        _stale_cleaned = True
    clean_stale_containers(client)


def clean_stale_containers(client=None) -> int:
    """Remove sandbox containers whose owner process on this host is gone; returns how many."""
    client = client or docker_client()
    removed = 0
    for c in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
        labels = c.labels or {}
        if labels.get("codeagent.owner_host") != HOST:
            continue
        try:
            pid = int(labels.get("codeagent.owner_pid", ""))
            os.kill(pid, 0)
            continue  # owner alive
        except ProcessLookupError:
            pass
        except (ValueError, PermissionError):
            continue  # unknown or someone else's live process: leave it
        try:
            c.remove(force=True)
            removed += 1
        except Exception:  # noqa: BLE001 — another process may be removing it at the same time
            pass
    return removed
