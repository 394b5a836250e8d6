"""`codeagent sandbox` end to end, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def codeagent(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeagent", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def test_help_says_local_is_weaker():
    res = codeagent("sandbox", "--help")
    assert res.returncode == 0
    assert "WEAKER isolation than Docker" in res.stdout
    for action in ("build", "check", "status"):
        assert action in res.stdout


def test_status_without_daemon_explains_and_picks_local():
    res = codeagent("sandbox", "status", DOCKER_HOST="unix:///nonexistent/docker.sock")
    assert res.returncode == 0, res.stderr
    assert "DOWN" in res.stdout and "auto picks    : local" in res.stdout and "dockerd" in res.stdout


@pytest.mark.docker
def test_status_with_daemon_and_image_picks_docker():
    res = codeagent("sandbox", "status")
    assert res.returncode == 0, res.stderr
    assert "auto picks    : docker" in res.stdout


@pytest.mark.docker
def test_status_names_the_build_command_when_the_image_is_missing():
    res = codeagent("sandbox", "status", CODEAGENT_SANDBOX_IMAGE="codeagent-sandbox-python:no-such-tag")
    assert "missing" in res.stdout and "codeagent sandbox build" in res.stdout
