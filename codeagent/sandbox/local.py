"""The `local` backend: WEAKER isolation than Docker. Not a security boundary.

Each sandbox is a temp folder on this machine holding the snapshot as a git repository; every
`exec` is a fresh subprocess tree. What is in effect depends on what the machine allows, probed
once per process and recorded on each sandbox as `isolation`:

- as root (this machine, CI): commands run as a dedicated unprivileged uid (one per sandbox, no
  supplementary groups, no_new_privs) in new PID, network and mount namespaces. The PID
  namespace dies with the command, so daemons cannot outlive an exec and `kill -9 -1` reaches
  only the sandbox; the network namespace has only a down loopback; /tmp, /var/tmp and /dev/shm
  are a private folder. Leftovers of the uid are killed after every exec as a second bound.
- not root: `unshare -r` (user namespace) with the same namespaces when the kernel allows it,
  else only rlimits and the process group: daemons can escape and the network is open.
- always: rlimits (CPU seconds, address space, file size, open files, processes), a wall
  timeout killing the whole tree, a scrubbed environment, output capped per stream.

NOT contained, even as root: reading world-readable host files (/etc/passwd, the Python
install), total disk use across many files (only each file's size is bounded), kernel
exploits, and anything else a shared kernel and filesystem allow. Use `docker` for candidates
you do not trust at all; `codeagent sandbox check --backend local` prints what is contained.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import stat
import tempfile
import threading
from pathlib import Path
from typing import Mapping

from . import procutil
from .base import (GIT_DIFF, GIT_INIT, ExecResult, SandboxError, SandboxLimits, Snapshot,
                   SnapshotError, check_relative_path, snapshot_files)

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NOFILE = 1024
UID_BASE = 1_600_000
"""Dedicated sandbox uids are drawn from [UID_BASE, UID_BASE + UID_SPAN): no real user has them."""
UID_SPAN = 1_000_000
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
HARNESS_OUTPUT_BYTES = 1 << 30
"""Output kept for the harness's own commands (git diff): bounded by the file-size rlimit anyway."""

# Runs as (namespace) root before privileges are dropped: hide the host's shared temp dirs
# behind the sandbox's private one. When the sandbox lives under /tmp, its repo is first bound
# onto a mirror path inside the private dir, so the work dir has the same path inside and out.
MOUNT_INIT = r"""set -e
w=$1 priv=$2 mirror=$3; shift 3
if [ -n "$mirror" ]; then mount --bind "$w" "$mirror"; fi
for d in /var/tmp /dev/shm /tmp; do  # /tmp last: it hides $priv's own path
  if [ -d "$d" ]; then mount --rbind "$priv" "$d"; fi
done
cd "$w"
exec "$@"
"""


@functools.cache
def probe() -> dict:
    """What this machine allows, tried once per process with a real throwaway command."""
    root = os.geteuid() == 0
    tools = {t: shutil.which(t, path=SAFE_PATH) for t in ("unshare", "setpriv", "prlimit", "mount", "env")}
    if not tools["prlimit"] or not tools["env"]:
        raise SandboxError("the local sandbox needs `prlimit` and `env` (util-linux, coreutils); "
                           "install util-linux or use --backend docker")
    tries = [dict(pid=True, net=True), dict(pid=True, net=False), dict(pid=False, net=True),
             dict(pid=False, net=False)]
    for t in tries:
        iso = dict(root=root, tools=tools, pid_ns=t["pid"], net_ns=t["net"])
        if (t["pid"] or t["net"]) and not tools["unshare"]:
            continue
        if root and not tools["setpriv"]:
            raise SandboxError("the local sandbox runs as root and needs `setpriv` (util-linux) to drop "
                               "to an unprivileged user; install util-linux or use --backend docker")
        if _probe_ok(iso):
            return iso
    raise SandboxError("the local sandbox could not run even `true` with rlimits on this machine; "
                       "use --backend docker")


def _probe_ok(iso: dict) -> bool:
    sb = _Layout.create(iso, uid=65534 if iso["root"] else os.getuid())
    try:
        cap = procutil.run_capped(_wrap(iso, sb, ["true"], {}, SandboxLimits(timeout_s=10)),
                                  cwd=sb.repo, env=_base_env(iso, sb), timeout=10, cap=4096,
                                  kill=procutil.kill_group)
        return cap.returncode == 0
    finally:
        sb.remove()


class _Layout:
    """The sandbox's folders on the host: root (0711) / repo (the work dir) and tmp (private)."""

    def __init__(self, root: str, uid: int, mirror: str):
        self.root, self.uid, self.mirror = root, uid, mirror
        self.repo = os.path.join(root, "repo")
        self.tmp = os.path.join(root, "tmp")

    @classmethod
    def create(cls, iso: dict, uid: int) -> "_Layout":
        root = tempfile.mkdtemp(prefix="codeagent-local-")
        os.chmod(root, 0o711)  # the sandbox uid may pass through, not list
        lay = cls(root, uid, "")
        os.mkdir(lay.repo, 0o755)
        # Sticky and root-owned like a real /tmp: the candidate can use it, not rename our mount point.
        os.mkdir(lay.tmp)
        os.chmod(lay.tmp, 0o1777 if iso["root"] else 0o700)
        if iso["pid_ns"]:  # pid_ns implies a mount namespace (--mount-proc)
            for d in PRIVATE_DIRS:
                if Path(lay.repo).is_relative_to(d):
                    lay.mirror = os.path.join(lay.tmp, os.path.relpath(lay.repo, d))
                    os.makedirs(lay.mirror, 0o755)
        if iso["root"]:
            os.chown(lay.repo, uid, uid)
        return lay

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _base_env(iso: dict, lay: _Layout) -> dict[str, str]:
    """The whole environment of the wrappers; the command gets `_user_env` instead."""
    return {"PATH": SAFE_PATH, "LANG": "C.UTF-8"}


def _user_env(iso: dict, lay: _Layout, extra: Mapping[str, str] | None) -> dict[str, str]:
    tmp = "/tmp" if iso["pid_ns"] else lay.tmp
    env = {"PATH": SAFE_PATH, "HOME": tmp, "TMPDIR": tmp, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "PYTHONDONTWRITEBYTECODE": "1"}
    for k, v in (extra or {}).items():
        if not k or "=" in k or k.startswith("-") or "\x00" in k + str(v):
            raise SandboxError(f"invalid environment variable name for a sandbox command: {k!r}")
        env[k] = str(v)
    return env


def _wrap(iso: dict, lay: _Layout, argv: list[str], env: dict[str, str], limits: SandboxLimits) -> list[str]:
    """The full command line: namespaces -> mounts -> rlimits -> drop privileges -> clean env -> cmd."""
    t = iso["tools"]
    out: list[str] = []
    if iso["pid_ns"] or iso["net_ns"]:
        out += [t["unshare"]]
        if not iso["root"]:
            out += ["--map-root-user"]
        if iso["net_ns"]:
            out += ["--net"]
        if iso["pid_ns"]:
            out += ["--pid", "--fork", "--mount-proc", "--kill-child"]
        out += ["--"]
        if iso["pid_ns"]:
            out += ["/bin/sh", "-c", MOUNT_INIT, "sh", lay.repo, lay.tmp, lay.mirror]
    mb = 1 << 20
    out += [t["prlimit"], f"--cpu={limits.cpu_seconds}", f"--as={limits.memory_mb * mb}",
            f"--fsize={limits.disk_mb * mb}", f"--nofile={NOFILE}", "--core=0"]
    if iso["root"]:  # NPROC counts per real uid: meaningful only for a uid of our own
        out += [f"--nproc={limits.pids}"]
    out += ["--"]
    if iso["root"]:
        out += [t["setpriv"], f"--reuid={lay.uid}", f"--regid={lay.uid}", "--clear-groups",
                "--no-new-privs", "--"]
    out += [t["env"], "-i", *(f"{k}={v}" for k, v in env.items())]
    return out + ["/bin/sh", "-c", 'exec "$@"', "sh", *argv]


class LocalSandbox:
    """A temp-folder sandbox on this machine. WEAKER isolation than Docker; see the module doc."""

    backend = "local"

    def __init__(self, snapshot: Snapshot, limits: SandboxLimits):
        files = snapshot_files(snapshot)  # validate before touching the disk
        self.limits = limits
        iso = probe()
        self._iso = iso
        uid = UID_BASE + secrets.randbelow(UID_SPAN) if iso["root"] else os.getuid()
        self._lay = _Layout.create(iso, uid)
        self.workdir = self._lay.repo
        self.isolates_pids = iso["pid_ns"]
        self.isolation = self._describe()
        self._lock = threading.Lock()
        self._closed = False
        try:
            self.write_files(files)
            init = self._run(GIT_INIT, 60, None, limits.output_bytes)
            if not init.ok:
                raise SandboxError(f"local sandbox: `git init` of the snapshot failed "
                                   f"(exit {init.exit_code}): {init.stderr.strip()[-500:]}")
        except BaseException:
            self.close()
            raise

    def _describe(self) -> dict:
        iso, root = self._iso, self._iso["root"]
        return {
            "user": f"dedicated uid {self._lay.uid}, no groups, no_new_privs" if root
                    else f"same uid as the harness ({os.getuid()})" + (" mapped to root in a user namespace"
                                                                       if iso["pid_ns"] or iso["net_ns"] else ""),
            "pid_namespace": iso["pid_ns"],
            "network_namespace": iso["net_ns"],
            "private_tmp": iso["pid_ns"],
            "rlimits": ["cpu", "address space", "file size", "open files"] + (["processes"] if root else []),
            "daemons_killed_after_exec": iso["pid_ns"] or root,
            # Names of `codeagent.sandbox.check` cases this sandbox does NOT claim to contain.
            "not_contained": ["host_read_world_readable", "disk_fill_many_files"]
                             + ([] if iso["net_ns"] else ["network"])
                             + ([] if iso["pid_ns"] else ["host_write"])
                             + ([] if iso["pid_ns"] or root else ["daemon", "kill_all", "leftovers"])
                             + ([] if root else ["fork_bomb", "host_read"]),
            "not_contained_why": "world-readable host files stay readable; only each file's size is "
                                 "bounded, not the total; a shared kernel" + ("" if iso["net_ns"] else "; network open"),
        }

    # -- protocol -------------------------------------------------------------------------------
    def exec(self, cmd: str | list[str], timeout: float | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        return self._run(cmd, timeout if timeout is not None else self.limits.timeout_s, env,
                         self.limits.output_bytes)

    def write_files(self, files: Mapping[str, str | bytes]) -> None:
        # Safe to resolve then write: no candidate process runs between execs (all are killed).
        for rel, content in files.items():
            path = self._inside(check_relative_path(rel), must_exist=False)
            self._makedirs(os.path.dirname(path))
            data = content.encode() if isinstance(content, str) else bytes(content)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, data) if data else None
                self._own(fd=fd)
            finally:
                os.close(fd)

    def read_file(self, path: str) -> bytes:
        full = self._inside(check_relative_path(path), must_exist=True)
        # O_NONBLOCK: a FIFO planted by the candidate must not hang the harness.
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileNotFoundError(f"not a regular file in the sandbox: {path}")
            with os.fdopen(os.dup(fd), "rb") as f:
                return f.read()
        finally:
            os.close(fd)

    def diff(self) -> str:
        # Runs as the sandbox user, never as root: the candidate controls .git/config (fsmonitor,
        # diff drivers), so git here may run its code.
        res = self._run(GIT_DIFF, 120, None, HARNESS_OUTPUT_BYTES)
        if res.exit_code != 0:
            raise SandboxError(f"local sandbox: git diff failed (exit {res.exit_code}): {res.stderr.strip()[-500:]}")
        return res.stdout

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._iso["root"]:
            procutil.kill_uid(self._lay.uid)
        self._lay.remove()

    def __enter__(self) -> "LocalSandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ------------------------------------------------------------------------------
    def _run(self, cmd: str | list[str], timeout: float, env: Mapping[str, str] | None, cap: int) -> ExecResult:
        if self._closed:
            raise SandboxError("this local sandbox is closed; open a new one")
        argv = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        if not argv:
            return ExecResult(exit_code=None, stdout="", stderr="", error="empty command")
        wrapped = _wrap(self._iso, self._lay, argv, _user_env(self._iso, self._lay, env), self.limits)
        with self._lock:
            cap_ = procutil.run_capped(wrapped, cwd=self._lay.repo, env=_base_env(self._iso, self._lay),
                                       timeout=max(0.01, float(timeout)), cap=cap, kill=self._kill)
        code = cap_.returncode
        if code is not None and code < 0:
            code = 128 - code  # killed by a signal (e.g. rlimit): report it the way shells do
        stderr = cap_.stderr.decode("utf-8", "replace")
        error = None
        if cap_.timed_out:
            error = f"timed out after {timeout:g}s; the whole process tree was killed"
        elif cap_.flooded:
            error = f"output flood (> {procutil.ABSURD_FACTOR}x the {cap}-byte cap); the command was killed"
        elif code == 127 and "not found" in stderr:
            error = f"command not found: {argv[0] if not isinstance(cmd, str) else cmd.split()[0] if cmd.split() else cmd}"
        elif code == 126:
            error = f"command not executable: {argv[0]}"
        return ExecResult(exit_code=code, stdout=cap_.stdout.decode("utf-8", "replace"), stderr=stderr,
                          timed_out=cap_.timed_out, duration=cap_.duration,
                          output_truncated=cap_.truncated, error=error)

    def _kill(self, proc) -> None:
        procutil.kill_group(proc)  # unshare dies -> --kill-child kills the namespace's PID 1
        if self._iso["root"]:
            procutil.kill_uid(self._lay.uid)

    def _inside(self, rel: str, must_exist: bool) -> str:
        full = os.path.join(self._lay.repo, rel)
        real = os.path.realpath(full)
        repo = os.path.realpath(self._lay.repo)
        if real != repo and not real.startswith(repo + os.sep):
            raise SnapshotError(f"{rel!r} resolves outside the sandbox work dir (through a symlink); refused")
        if os.path.relpath(real, repo).split(os.sep)[0] == ".git":
            raise SnapshotError(f"{rel!r} resolves into git internals; refused")
        if must_exist and not os.path.lexists(real):
            raise FileNotFoundError(f"no such file in the sandbox: {rel}")
        return real

    def _makedirs(self, path: str) -> None:
        missing = []
        while not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for d in reversed(missing):
            os.mkdir(d, 0o755)
            self._own(path=d)

    def _own(self, *, fd: int | None = None, path: str | None = None) -> None:
        if not self._iso["root"]:
            return
        if fd is not None:
            os.fchown(fd, self._lay.uid, self._lay.uid)
        else:
            os.chown(path, self._lay.uid, self._lay.uid, follow_symlinks=False)


def open_local_sandbox(snapshot: Snapshot, limits: SandboxLimits) -> LocalSandbox:
    """Start a local sandbox (WEAKER isolation than Docker) holding `snapshot` as a git repo."""
    return LocalSandbox(snapshot, limits)
