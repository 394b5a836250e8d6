"""The sandbox seam: one protocol, the records it returns, and checks shared by every backend.

Candidate code is hostile by default. A backend's job is to run commands inside a repository
snapshot with bounded resources and to report what happened as data (`ExecResult`): a crash,
a timeout or a flood of output of the candidate's code is never an exception in the harness.
"""

from __future__ import annotations

from codeagent.errors import UserError

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Mapping, Protocol, runtime_checkable

# A repository snapshot: relative POSIX path -> file content, or a folder on disk.
Snapshot = Mapping[str, "str | bytes"] | Path

DEFAULT_OUTPUT_BYTES = 1 << 20  # per stream


class SandboxError(UserError):
    """A harness-level problem with a sandbox (no daemon, no image, bad snapshot).

    The message is meant for a person: it says what is wrong and what to do.
    """


class SnapshotError(SandboxError):
    """A repository snapshot that would write outside its root."""


@dataclass(frozen=True)
class SandboxLimits:
    """Resource bounds applied to everything that runs in one sandbox."""

    timeout_s: float = 30.0
    """Default wall-clock limit of one `exec`; the whole process tree is killed past it."""
    memory_mb: int = 1024
    """Memory (docker: cgroup limit, no swap; local: address-space rlimit per process)."""
    cpus: float = 1.0
    """CPU quota in cores (docker); the local backend bounds CPU seconds instead."""
    cpu_seconds: int = 60
    """CPU-time rlimit per process (local backend, and inside docker as a second bound)."""
    pids: int = 128
    """Most processes/threads at once."""
    disk_mb: int = 256
    """Size of the writable work dir (docker tmpfs); largest file written (local rlimit)."""
    tmp_mb: int = 64
    """Size of the writable /tmp (docker tmpfs)."""
    output_bytes: int = DEFAULT_OUTPUT_BYTES
    """Output kept per stream per exec; the rest is drained and dropped, never blocks."""


@dataclass
class ExecResult:
    """What one command did. Failures of the command are data, not exceptions."""

    exit_code: int | None
    """None when the process was killed (timeout) or never started."""
    stdout: str
    stderr: str
    timed_out: bool = False
    duration: float = 0.0
    output_truncated: bool = False
    error: str | None = None
    """Harness-side explanation when the command could not run as asked (e.g. not found)."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@runtime_checkable
class Sandbox(Protocol):
    """A running sandbox holding one git repository at its work dir.

    Created by `open_sandbox(name, snapshot, limits)`; close it (or use `with`).
    """

    backend: str
    """Registry key of the backend that made it, for records."""
    workdir: str
    """Absolute path of the repository inside the sandbox."""
    isolates_pids: bool
    """True when the sandbox has its own PID namespace (so `kill(-1)` inside reaches only it)."""

    def exec(self, cmd: str | list[str], timeout: float | None = None,
             env: Mapping[str, str] | None = None) -> ExecResult:
        """Run `cmd` (a shell string or argv) in the work dir."""
        ...

    def write_files(self, files: Mapping[str, str | bytes]) -> None:
        """Write files relative to the work dir (paths are validated like a snapshot)."""
        ...

    def read_file(self, path: str) -> bytes:
        """Read a file relative to the work dir. Raises FileNotFoundError."""
        ...

    def diff(self) -> str:
        """The repository's changes since the snapshot, as a unified git patch."""
        ...

    def close(self) -> None:
        ...

    def __enter__(self) -> "Sandbox": ...

    def __exit__(self, *exc) -> None: ...


def check_relative_path(path: str) -> str:
    """Return `path` normalised, or raise SnapshotError if it escapes the repository root."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise SnapshotError(f"invalid path in repository snapshot: {path!r}")
    p = PurePosixPath(path)
    if p.is_absolute() or path.startswith("\\") or (len(path) > 1 and path[1] == ":"):
        raise SnapshotError(f"absolute path in repository snapshot: {path!r}; use paths relative to the repo root")
    if any(part == ".." for part in p.parts):
        raise SnapshotError(f"path escapes the repository root: {path!r}")
    if p.parts and p.parts[0] == ".git":
        raise SnapshotError(f"snapshot may not write git internals: {path!r}")
    return str(p)


def snapshot_files(snapshot: Snapshot) -> dict[str, bytes]:
    """Read a snapshot (mapping or folder) into validated relative path -> bytes.

    A folder's symlinks that point outside the folder are refused; `.git` is skipped so that
    task repos carry no history an agent could mine.
    """
    out: dict[str, bytes] = {}
    if isinstance(snapshot, (str, os.PathLike)) and not isinstance(snapshot, Mapping):
        root = Path(snapshot).resolve()
        if not root.is_dir():
            raise SnapshotError(f"repository snapshot folder does not exist: {root}")
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = [d for d in dirnames if d != ".git"]
            for d in list(dirnames):
                full = Path(dirpath) / d
                if full.is_symlink():
                    _check_link(root, full)
                    dirnames.remove(d)  # not followed; contents stay where they are
            for name in filenames:
                full = Path(dirpath) / name
                if full.is_symlink():
                    _check_link(root, full)
                rel = full.relative_to(root).as_posix()
                out[check_relative_path(rel)] = full.read_bytes()
        return out
    for path, content in snapshot.items():
        rel = check_relative_path(path)
        out[rel] = content.encode() if isinstance(content, str) else bytes(content)
    return out


def _check_link(root: Path, link: Path) -> None:
    target = (link.parent / os.readlink(link)).resolve()
    if target != root and root not in target.parents:
        raise SnapshotError(f"symlink points outside the repository: {link.relative_to(root)} -> {os.readlink(link)}")


# Commands a backend runs to make the snapshot a git repo whose diff() is the agent's patch.
GIT_INIT = (
    "git init -q . && git add -A && "
    "git -c user.name=codeagent -c user.email=codeagent@localhost -c commit.gpgsign=false "
    "commit -q --allow-empty -m snapshot"
)
GIT_DIFF = "git add -A && git -c core.quotepath=false diff --cached --binary HEAD"
