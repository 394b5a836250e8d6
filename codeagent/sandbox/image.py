"""The docker sandbox image: its tag, and how `codeagent sandbox build` makes it.

Two routes end in the same tag, both from `sandboxes/python/Dockerfile`:

1. A registry is reachable: `docker build` with the default `BASE=debian:bookworm-slim`.
2. No registry (air-gapped machines, CI runners behind a proxy): debootstrap a minimal bookworm
   rootfs that already holds python3/pytest/git from the Debian mirror apt uses on this machine,
   `docker import` it as `<tag>-base`, and run the same Dockerfile with `BASE=<tag>-base`.

The debootstrap tarball is cached under `~/.cache/codeagent/`, so a rebuild (or a build that was
interrupted after the download) does not fetch the packages again.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Callable

from .base import SandboxError

IMAGE_TAG = "codeagent-sandbox-python:1"
"""The one name of the sandbox image. `CODEAGENT_SANDBOX_IMAGE` overrides it (tests use a bogus tag)."""

SUITE = "bookworm"
PACKAGES = ("python3", "python3-pytest", "git")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DOCKERFILE_DIR = Path(__file__).resolve().parents[2] / "sandboxes" / "python"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "codeagent"
REGISTRY_PROBE_S = 20.0
"""How long a registry pull may take before we decide there is no registry and go offline."""


def image_tag() -> str:
    return os.environ.get("CODEAGENT_SANDBOX_IMAGE") or IMAGE_TAG


def base_tag(tag: str) -> str:
    return f"{tag}-base" if ":" in tag.rsplit("/", 1)[-1] else f"{tag}:base"


def image_exists(client, tag: str | None = None) -> bool:
    import docker.errors
    try:
        client.images.get(tag or image_tag())
        return True
    except docker.errors.ImageNotFound:
        return False


def debian_mirror(sources: Path = Path("/etc/apt")) -> str:
    """The Debian archive URL apt uses here (deb822 `URIs:` or one-line `deb` entries)."""
    files = [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for url in re.findall(r"^\s*URIs:\s*(\S+)", text, re.M) + re.findall(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            if url.rstrip("/").endswith("/debian"):  # the main archive, not -security or third party
                return url
    return DEFAULT_MIRROR


def build_image(force: bool = False, tag: str | None = None, say: Callable[[str], None] = print) -> str:
    """Make the sandbox image `tag` if missing (or `force`). Returns how: exists|registry|offline."""
    from .docker import docker_client
    client = docker_client()
    tag = tag or image_tag()
    if image_exists(client, tag) and not force:
        say(f"image {tag} already exists (use --force to rebuild)")
        return "exists"
    say("probing for a container registry (pulling debian:bookworm-slim)...")
    if _pull(f"debian:{SUITE}-slim", REGISTRY_PROBE_S):
        _docker_build(client, tag, {}, say)
        return "registry"
    say("no registry reachable: building offline from the Debian mirror with debootstrap")
    rootfs = _rootfs_tarball(say)
    base = base_tag(tag)
    say(f"importing {rootfs.name} as {base}...")
    client.api.import_image_from_file(str(rootfs), repository=base.rsplit(":", 1)[0], tag=base.rsplit(":", 1)[1],
                                      changes=['CMD ["sleep", "infinity"]'])
    _docker_build(client, tag, {"BASE": base}, say)
    return "offline"


def _pull(ref: str, timeout_s: float) -> bool:
    """True when `ref` could be pulled within `timeout_s` (a hanging registry counts as none)."""
    from .docker import docker_client
    done: dict = {}

    def pull() -> None:
        try:
            repo, _, tag = ref.partition(":")
            docker_client().images.pull(repo, tag=tag or "latest")
            done["ok"] = True
        except Exception as e:  # noqa: BLE001 — any failure means: no registry for us
            done["error"] = e

    t = threading.Thread(target=pull, daemon=True)  # the SDK has no per-call timeout on pulls
    t.start()
    t.join(timeout_s)
    return bool(done.get("ok"))


def _docker_build(client, tag: str, buildargs: dict, say: Callable[[str], None]) -> None:
    if not (DOCKERFILE_DIR / "Dockerfile").is_file():
        raise SandboxError(f"missing {DOCKERFILE_DIR / 'Dockerfile'}; run from a complete codeagent checkout")
    say(f"building {tag} from {DOCKERFILE_DIR / 'Dockerfile'}...")
    for chunk in client.api.build(path=str(DOCKERFILE_DIR), tag=tag, buildargs=buildargs, rm=True,
                                  forcerm=True, decode=True, pull=False):
        if "error" in chunk:
            raise SandboxError(f"docker build of {tag} failed: {chunk['error'].strip()}")
        line = chunk.get("stream", "").strip()
        if line.startswith("Step "):
            say("  " + line)
    if not image_exists(client, tag):
        raise SandboxError(f"docker build finished but image {tag} is missing; see `docker images`")
    say(f"image {tag} is ready")


def _rootfs_tarball(say: Callable[[str], None]) -> Path:
    """The cached debootstrap rootfs tarball, made if missing (atomically: no half file is kept)."""
    out = CACHE_DIR / f"rootfs-{SUITE}-{'-'.join(PACKAGES)}.tar"
    if out.is_file():
        say(f"using cached rootfs {out}")
        return out
    if shutil.which("debootstrap") is None:
        raise SandboxError("no registry reachable and debootstrap is not installed; "
                           "install it with `apt-get install debootstrap` and rerun `codeagent sandbox build`")
    if os.geteuid() != 0:
        raise SandboxError("the offline image build runs debootstrap, which needs root; "
                           "rerun `codeagent sandbox build` as root (or with sudo)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    with tempfile.TemporaryDirectory(prefix="codeagent-rootfs-", dir=CACHE_DIR) as tmp:
        root = Path(tmp) / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), mirror]
        say(f"running {' '.join(cmd)} (about a minute)")
        _run_with_progress(cmd, say)
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man",
                     "usr/share/locale", "usr/share/info"):
            shutil.rmtree(root / junk, ignore_errors=True)
        partial = out.with_suffix(".tar.part")
        say("packing the rootfs...")
        subprocess.run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], check=True)
        partial.replace(out)
    return out


def _run_with_progress(cmd: list[str], say: Callable[[str], None]) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("debootstrap", total=None)
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            bar.update(task, description=f"debootstrap: {line.strip()[:100]}")
    if proc.wait() != 0:
        raise SandboxError(f"debootstrap failed (exit {proc.returncode}); last lines:\n" + "\n".join(tail))
