"""The warm pool: containers are reused, and each checkout starts from a clean slate."""

from __future__ import annotations

import os
import threading

import pytest

from codeagent.sandbox import SandboxLimits, SnapshotError
from codeagent.sandbox.docker import LABEL, docker_client
from codeagent.sandbox.pool import SandboxPool

LIMITS = SandboxLimits(timeout_s=10, memory_mb=256, pids=64, disk_mb=32, tmp_mb=8)


def our_container_ids() -> set[str]:
    return {c.id for c in docker_client().containers.list(
        all=True, filters={"label": [f"{LABEL}=1", f"codeagent.owner_pid={os.getpid()}"]})}


@pytest.mark.docker
def test_same_container_is_reused_and_reset():
    before = our_container_ids()
    with SandboxPool("docker", size=1, limits=LIMITS) as pool:
        with pool.checkout({"first.txt": "1"}) as box:
            first_id = box.id
            # leave a mess: files in /work, /tmp and /dev/shm, a daemon, a commit-less change
            box.write_files({"junk.txt": "junk"})
            box._exec_raw(["sh", "-c", "setsid sleep 300 </dev/null >/dev/null 2>&1 &"], 5, None, 1000, wrap=False)
            assert box.exec("echo x > /tmp/t && echo y > /dev/shm/s").ok
            assert box.exec("mkdir -p ro/d /tmp/ro && touch ro/d/f /tmp/ro/f && chmod -R a-w ro /tmp/ro").ok
        with pool.checkout({"second.txt": "2"}) as box:
            assert box.id == first_id, "the warm container was not reused"
            assert box.exec("ls -A").stdout.split() == [".git", "second.txt"]
            assert box.exec("ls -A /tmp /dev/shm").stdout.split() == ["/dev/shm:", "/tmp:"]
            procs = box.exec("for p in /proc/[0-9]*; do cat $p/cmdline; echo; done").stdout
            assert "sleep" not in procs
            assert box.diff() == ""
            assert box.exec("git log --oneline | wc -l").stdout.strip() == "1"
    assert our_container_ids() == before, "pool.close() left containers behind"


@pytest.mark.docker
def test_dead_container_is_replaced():
    with SandboxPool("docker", size=1, limits=LIMITS) as pool:
        with pool.checkout({"a": "a"}) as box:
            dead_id = box.id
            box.container.kill()
        with pool.checkout({"b": "b"}) as box:
            assert box.id != dead_id
            assert box.read_file("b") == b"b"


@pytest.mark.docker
def test_bad_snapshot_does_not_cost_the_container():
    with SandboxPool("docker", size=1, limits=LIMITS) as pool:
        with pool.checkout({"a": "a"}) as box:
            kept = box.id
        with pytest.raises(SnapshotError):
            with pool.checkout({"../x": "x"}):
                pass
        with pool.checkout({"b": "b"}) as box:
            assert box.id == kept


@pytest.mark.docker
@pytest.mark.slow
def test_thread_safe_and_bounded():
    seen: set[str] = set()
    errors: list[str] = []
    lock = threading.Lock()
    with SandboxPool("docker", size=2, limits=LIMITS) as pool:
        def worker(i: int) -> None:
            for j in range(3):
                with pool.checkout({"n.txt": f"{i}-{j}"}) as box:
                    got = box.read_file("n.txt").decode()
                    with lock:
                        seen.add(box.id)
                        if got != f"{i}-{j}":
                            errors.append(got)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert 1 <= len(seen) <= 2, "more containers than the pool size"


def test_local_backend_works_through_the_same_pool():
    pytest.importorskip("codeagent.sandbox.local", reason="local backend not in this build")
    with SandboxPool("local", size=1, limits=LIMITS) as pool:
        with pool.checkout({"a.txt": "a"}) as box:
            box.write_files({"junk": "j"})
        with pool.checkout({"b.txt": "b"}) as box:
            assert box.read_file("b.txt") == b"b"
            with pytest.raises(FileNotFoundError):
                box.read_file("junk")


@pytest.mark.docker
def test_close_removes_idle_and_checked_out_containers():
    before = our_container_ids()
    pool = SandboxPool("docker", size=2, limits=LIMITS)
    with pool.checkout({"a": "a"}):
        pass  # now idle
    with pool.checkout({"b": "b"}) as box:
        assert len(our_container_ids() - before) == 1
        with pool.checkout({"c": "c"}):
            assert len(our_container_ids() - before) == 2
            pool.close()
            assert our_container_ids() == before
        res = box.exec("true")
        assert res.exit_code is None and res.error  # a failure as data, not an exception
    assert our_container_ids() == before


@pytest.mark.parametrize("backend", ["local", pytest.param("docker", marks=pytest.mark.docker)])
def test_reset_false_reuses_as_is_and_a_failed_holder_discards(backend):
    """The test engine's way of using the pool: the same empty snapshot, no reset between
    batches; a sandbox whose user failed is never handed out again."""
    with SandboxPool(backend, size=1, limits=LIMITS) as pool:
        first = pool.acquire({}, reset=False)
        first.write_files({"left.txt": "from the last batch"})
        pool.release(first)
        again = pool.acquire({}, reset=False)
        assert again is first and again.exec(["cat", "left.txt"]).stdout == "from the last batch"
        pool.release(again, healthy=False)
        fresh = pool.acquire({}, reset=False)
        assert fresh is not first and fresh.exec(["ls"]).stdout.strip() == ""
        pool.release(fresh)
        with pytest.raises(RuntimeError):
            with pool.checkout({}, reset=False):
                raise RuntimeError("the body failed")
        with pool.checkout({"other.txt": "x"}, reset=False) as box:  # another snapshot: not the used one
            assert box is not fresh and box.exec(["cat", "other.txt"]).stdout == "x"
