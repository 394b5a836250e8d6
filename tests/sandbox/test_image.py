"""The sandbox image holds what tasks need, and the build is idempotent."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from codeagent.sandbox.docker import docker_client
from codeagent.sandbox.image import IMAGE_TAG, base_tag, debian_mirror, image_tag

REPO = Path(__file__).resolve().parents[2]


def run_in_image(*argv: str) -> str:
    return docker_client().containers.run(image_tag(), list(argv), remove=True, network_mode="none").decode()


@pytest.mark.docker
def test_image_has_python_pytest_git_and_user_1000():
    assert image_tag() == IMAGE_TAG
    out = run_in_image("sh", "-c", "python3 --version; python3 -m pytest --version; git --version; "
                                   "id -u; id -g; stat -c %u /work; echo $HOME")
    lines = out.splitlines()
    assert lines[0].startswith("Python 3.")
    assert lines[1].startswith("pytest ")
    assert lines[2].startswith("git version")
    assert lines[3:] == ["1000", "1000", "1000", "/tmp"]
    labels = docker_client().images.get(IMAGE_TAG).labels
    assert labels.get("codeagent.sandbox.image") == "python"


@pytest.mark.docker
def test_build_is_a_fast_no_op_when_the_image_exists():
    t0 = time.monotonic()
    res = subprocess.run([sys.executable, "-m", "codeagent", "sandbox", "build"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "already exists" in res.stdout
    assert time.monotonic() - t0 < 15


def test_mirror_is_read_from_apt_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    assert debian_mirror(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text("deb [arch=amd64] http://old.example/debian bookworm main\n")
    assert debian_mirror(tmp_path) == "http://old.example/debian"
    assert debian_mirror(tmp_path / "nothing-here") == "http://deb.debian.org/debian"


def test_base_tag():
    assert base_tag("codeagent-sandbox-python:1") == "codeagent-sandbox-python:1-base"
    assert base_tag("localhost:5000/img") == "localhost:5000/img:base"


@pytest.mark.docker
@pytest.mark.slow
def test_build_makes_a_working_image_under_another_tag():
    import docker.errors
    from codeagent.sandbox.image import build_image
    tag = "codeagent-sandbox-python:test-build"
    client = docker_client()
    lines: list[str] = []
    try:
        how = build_image(force=True, tag=tag, say=lines.append)
        assert how in ("registry", "offline"), lines
        out = client.containers.run(tag, ["sh", "-c", "python3 -c 'import pytest; print(1)'; id -u"],
                                    remove=True, network_mode="none").decode()
        assert out.split() == ["1", "1000"]
        assert build_image(tag=tag, say=lines.append) == "exists"
    finally:
        for t in (tag, base_tag(tag)):
            try:
                client.images.remove(t)
            except docker.errors.ImageNotFound:
                pass
