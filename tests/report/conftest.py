"""Report tests: a real run folder (scripted model, local sandboxes, real verification), a loop
folder laid out as `codeagent improve` lays it out, and one headless Chromium for the session.

Chromium comes from Debian (`scripts/setup.sh` installs it). Locally a missing browser skips the
browser tests with the fix; in CI (CI set) it fails them, as a missing Docker fails docker tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chromium_cdp import Chromium, chromium_binary
from report_fixtures import make_loop, make_run


@pytest.fixture(scope="session")
def browser():
    if chromium_binary() is None:
        message = "browser tests need Debian's chromium: run `bash scripts/setup.sh` (or apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set, so they must not be skipped)", pytrace=False)
        pytest.skip(message)
    with Chromium(width=1280, height=900) as c:
        yield c


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("report-run") / "run")


@pytest.fixture(scope="session")
def loop_dir(tmp_path_factory) -> Path:
    return make_loop(tmp_path_factory.mktemp("report-loop") / "loop")
