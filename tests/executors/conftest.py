"""A real local Ray cluster for the session: `ray start --head` plus a second node (one CPU each,
127.0.0.1, own process groups), stopped at the end. Tests may add nodes and kill them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from codeagent.executors.localcluster import LocalCluster


@pytest.fixture(scope="session")
def ray_cluster():
    """Two nodes (one CPU each); this test process is connected to it as the driver."""
    root = Path(tempfile.mkdtemp(prefix="cray-", dir="/tmp"))  # short: Ray's socket paths live here
    cluster = LocalCluster(root)
    try:
        cluster.wait_for(1)
        cluster.add_node()
        cluster.wait_for(2)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
