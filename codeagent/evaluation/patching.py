"""Apply a unified diff to a repository snapshot the way real harnesses do it:
`git apply`, then `git apply --3way`, then `patch --fuzz`. Runs on the host in a private temp dir
on data only (no candidate code runs here); paths are validated before any tool sees them."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from codeagent.errors import UserError
from codeagent.sandbox.base import SnapshotError, check_relative_path

_HEADER = re.compile(r"^(?:---|\+\+\+) (?:[ab]/)?(\S+)", re.M)
_GIT_HEADER = re.compile(r"^diff --git a/(\S+) b/(\S+)", re.M)
_GIT = ["git", "-c", "user.name=codeagent", "-c", "user.email=codeagent@localhost",
        "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false"]


class PatchError(UserError):
    """A patch that is empty, malformed, escapes the repo, or applies to nothing."""


def patch_paths(patch: str) -> list[str]:
    """Every path a patch names (validated: nothing outside the repo)."""
    paths = set(_HEADER.findall(patch))
    for a, b in _GIT_HEADER.findall(patch):
        paths.update((a, b))
    paths.discard("/dev/null")
    out = []
    for p in sorted(paths):
        try:
            out.append(check_relative_path(p))
        except SnapshotError as e:
            raise PatchError(f"patch names a path outside the repository: {e}") from None
    return out


def apply_patch(files: dict[str, str], patch: str) -> dict[str, str]:
    """The repo `files` with `patch` applied. Raises PatchError if it cannot be applied."""
    if not patch or not patch.strip():
        raise PatchError("patch is empty")
    if not patch.endswith("\n"):
        patch += "\n"
    if not patch_paths(patch):
        raise PatchError("not a unified diff: no file headers (---/+++ or diff --git) found")
    with tempfile.TemporaryDirectory(prefix="codeagent-patch-") as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        for rel, content in files.items():
            full = root / check_relative_path(rel)
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_text(content, encoding="utf-8")
        patch_file = Path(tmp) / "candidate.patch"
        patch_file.write_text(patch, encoding="utf-8")
        errors = []
        for how in (_git_apply, _git_apply_3way, _gnu_patch):
            err = how(root, patch_file)
            if err is None:
                new = _read_tree(root)
                if new == files:
                    raise PatchError("patch applied but changed nothing")
                return new
            errors.append(err)
        raise PatchError("patch does not apply: " + " | ".join(e.strip().splitlines()[-1] if e.strip() else "?"
                                                             for e in errors))


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
                               "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"})


def _git_apply(root: Path, patch_file: Path) -> str | None:
    r = _run(_GIT + ["apply", "--whitespace=nowarn", str(patch_file)], root)
    return None if r.returncode == 0 else r.stderr or "git apply failed"


def _git_apply_3way(root: Path, patch_file: Path) -> str | None:
    # --3way needs the pre-image blobs in an index: make the snapshot a one-commit repo.
    if not (root / ".git").exists():
        r = _run(_GIT + ["init", "-q", "."], root)
        r = _run(_GIT + ["add", "-A"], root) if r.returncode == 0 else r
        r = _run(_GIT + ["commit", "-q", "--allow-empty", "-m", "snapshot"], root) if r.returncode == 0 else r
        if r.returncode != 0:
            return r.stderr
    r = _run(_GIT + ["apply", "--3way", "--whitespace=nowarn", str(patch_file)], root)
    if r.returncode == 0 and not _run(_GIT + ["diff", "--name-only", "--diff-filter=U"], root).stdout.strip():
        return None
    _run(_GIT + ["checkout", "-q", "--", "."], root)  # undo a conflicted partial 3-way apply
    _run(_GIT + ["clean", "-qfd"], root)
    return r.stderr or "git apply --3way left conflicts"


def _gnu_patch(root: Path, patch_file: Path) -> str | None:
    r = _run(["patch", "-p1", "--fuzz=3", "--batch", "--forward", "--no-backup-if-mismatch",
              "-r", "-", "-i", str(patch_file)], root)
    return None if r.returncode == 0 else (r.stdout + r.stderr or "patch failed")


def _read_tree(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git" and not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            full = Path(dirpath) / name
            if full.is_symlink():
                continue  # a symlink from a patch is never followed into host files
            out[full.relative_to(root).as_posix()] = full.read_text(encoding="utf-8", errors="replace")
    return out
