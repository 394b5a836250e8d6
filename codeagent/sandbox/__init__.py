"""Sandboxes: one protocol (`Sandbox`), backends chosen by name.

- `docker`: real isolation (no network, read-only root, dropped capabilities, cgroup limits).
- `local`: WEAKER isolation than Docker, the embedded default when no daemon is reachable:
  a subprocess as an unprivileged user with rlimits, in new PID/network namespaces when the
  machine allows it. It is not a security boundary against a determined attacker.
- `auto`: docker when the daemon answers and the image exists, else local.
"""

from __future__ import annotations

import importlib

from .base import (ExecResult, Sandbox, SandboxError, SandboxLimits, Snapshot, SnapshotError,
                   check_relative_path, snapshot_files)

# name -> "module:factory"; imported lazily so `local` works without the docker SDK.
BACKENDS: dict[str, str] = {
    "docker": "codeagent.sandbox.docker:open_docker_sandbox",
    "local": "codeagent.sandbox.local:open_local_sandbox",
}


def resolve_backend(name: str = "auto", *, quiet: bool = False) -> str:
    """Turn `auto` into a concrete backend name, printing one line saying which and why."""
    if name != "auto":
        if name not in BACKENDS:
            raise SandboxError(f"unknown sandbox backend {name!r}; known: auto, {', '.join(sorted(BACKENDS))}")
        return name
    from .docker import docker_status  # lazy: needs the docker SDK only here
    usable, why = docker_status()
    chosen = "docker" if usable else "local"
    if not quiet:
        import sys
        print(f"sandbox: {chosen} ({why})", file=sys.stderr)
    return chosen


def open_sandbox(name: str, snapshot: Snapshot, limits: SandboxLimits | None = None) -> Sandbox:
    """Start a sandbox of backend `name` holding `snapshot` as a fresh git repository."""
    name = resolve_backend(name)
    module, _, attr = BACKENDS[name].partition(":")
    factory = getattr(importlib.import_module(module), attr)
    return factory(snapshot, limits or SandboxLimits())


__all__ = ["BACKENDS", "ExecResult", "Sandbox", "SandboxError", "SandboxLimits", "Snapshot",
           "SnapshotError", "check_relative_path", "open_sandbox", "resolve_backend", "snapshot_files"]
