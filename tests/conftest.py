"""Shared fixtures.

Tests marked `docker` need a running daemon and the sandbox image. Locally they are skipped with
the command that fixes it; in CI (env var CI set) Docker is always provided, so a missing daemon
or image FAILS those tests instead of silently skipping them.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def docker_available() -> bool:
    """True when the Docker daemon answers and the sandbox image exists (else skip, or fail in CI)."""
    from codeagent.sandbox.docker import docker_status
    usable, why = docker_status()
    if usable:
        return True
    fix = ("start the daemon with `dockerd > /tmp/dockerd.log 2>&1 &`" if "not reachable" in why
           else "build the image with `codeagent sandbox build`")
    message = f"docker tests need Docker: {why}. Fix: {fix}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so docker tests must not be skipped)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _docker_marker(request) -> None:
    """Every test marked `docker` gets `docker_available` without naming it."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("docker_available")
