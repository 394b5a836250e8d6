"""A local multi-node Ray cluster, for tests and benchmarks: `ray start --head` plus nodes, each
its own process group on 127.0.0.1 with `cpus` CPUs and a small object store.

    cluster = LocalCluster(root)      # the head node
    cluster.wait_for(1); cluster.add_node(); cluster.wait_for(2)   # this process is now its driver
    ...
    cluster.stop()                    # disconnects and ends every node's process group

`node.kill()` is SIGKILL to a node's whole process group: its raylet, object store and workers
die together, as when a machine goes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).parent / "ray"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Node:
    def __init__(self, args: list[str], log: Path, env: dict, cpus: int = 1):
        self.log = log
        with open(log, "wb") as out:
            self.proc = subprocess.Popen([str(RAY), "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={cpus}",
                                          "--object-store-memory=100000000", "--disable-usage-stats", *args],
                                         stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


class LocalCluster:
    def __init__(self, root: Path, cpus: int = 1):
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        # Workers import this checkout's codeagent; a node's death is noticed within seconds.
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                    "RAY_USAGE_STATS_ENABLED": "0", "RAY_health_check_period_ms": "1000",
                    "RAY_health_check_failure_threshold": "3", "RAY_health_check_initial_delay_ms": "1000",
                    # Ray's memory monitor judges the whole machine; on a shared one it would kill
                    # our workers for other people's memory use.
                    "RAY_memory_monitor_refresh_ms": "0"}
        self.nodes: list[Node] = []
        self.nodes.append(Node(["--head", f"--port={self.port}", "--include-dashboard=false",
                                f"--temp-dir={root / 'ray'}"], root / "head.log", self.env, cpus))

    def add_node(self, cpus: int = 1) -> Node:
        node = Node([f"--address={self.address}", f"--temp-dir={self.root / 'ray'}"],
                    self.root / f"node{len(self.nodes)}.log", self.env, cpus)
        self.nodes.append(node)
        return node

    def wait_for(self, n_nodes: int, timeout: float = 180.0) -> None:
        import ray
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ray.is_initialized() and sum(1 for n in ray.nodes() if n["Alive"]) == n_nodes:
                if ray.cluster_resources().get("CPU", 0) >= n_nodes:
                    return
            if not ray.is_initialized():
                try:
                    ray.init(address=self.address, logging_level="WARNING")
                    continue
                except ConnectionError:
                    pass
            time.sleep(1.0)
        logs = "\n".join(f"{n.log}:\n{n.log.read_text()[-1500:]}" for n in self.nodes)
        raise RuntimeError(f"the Ray cluster did not reach {n_nodes} node(s) in {timeout}s\n{logs}")

    def wait_until_dead(self, n_alive: int, timeout: float = 60.0) -> None:
        import ray
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for n in ray.nodes() if n["Alive"]) == n_alive:
                return
            time.sleep(0.5)
        raise RuntimeError(f"Ray still reports more than {n_alive} live node(s) after {timeout}s")

    def stop(self) -> None:
        import ray
        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(self.nodes):
            try:
                os.killpg(node.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        time.sleep(3.0)
        for node in self.nodes:  # `ray start --block` may outlive its raylet: end the whole group
            node.kill()
        # Ray's worker processes lead process groups of their own; find them by our temp dir.
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and str(self.root).encode() in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass
