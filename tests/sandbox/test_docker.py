"""The docker backend against real containers and hostile commands."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from codeagent.sandbox import Sandbox, SandboxError, SandboxLimits, SnapshotError
from codeagent.sandbox import docker as docker_backend
from codeagent.sandbox.docker import LABEL, docker_client, open_docker_sandbox

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]
SMALL = SandboxLimits(timeout_s=10, memory_mb=128, pids=64, disk_mb=16, tmp_mb=8, output_bytes=64 << 10)


def our_containers() -> list:
    return docker_client().containers.list(
        all=True, filters={"label": [f"{LABEL}=1", f"codeagent.owner_pid={os.getpid()}"]})


def container_exists(cid: str) -> bool:
    import docker.errors
    try:
        docker_client().containers.get(cid)
        return True
    except docker.errors.NotFound:
        return False


LIST_OTHERS = """
import os
def ppid(p):
    return int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])
mine, p = set(), os.getpid()
while p > 0:
    mine.add(p)
    p = ppid(p)
for p in os.listdir('/proc'):
    if p.isdigit() and int(p) not in mine and p != '1':
        try:
            print(p, open(f'/proc/{p}/cmdline').read().replace('\\0', ' '))
        except OSError:
            pass
"""


def leftover_pids(box) -> list[str]:
    """Processes in the sandbox other than PID 1 and the exec that lists them."""
    res = box.exec(["python3", "-c", LIST_OTHERS])
    assert res.exit_code == 0, res
    return res.stdout.splitlines()


@pytest.fixture(scope="module")
def box():
    with open_docker_sandbox({"src/app.py": "def f():\n    return 1\n", "README.md": "hi\n"}, SMALL) as b:
        yield b


@pytest.fixture(autouse=True)
def no_container_leaks():
    before = {c.id for c in our_containers()}
    yield
    leaked = {c.id for c in our_containers()} - before
    assert not leaked, f"test left containers behind: {leaked}"


# -- protocol basics ----------------------------------------------------------------------
def test_protocol_basics(box):
    assert isinstance(box, Sandbox) and box.backend == "docker" and box.isolates_pids
    assert box.workdir == "/work"
    res = box.exec("cat src/app.py; echo oops >&2; exit 3")
    assert (res.exit_code, res.stdout, res.stderr) == (3, "def f():\n    return 1\n", "oops\n")
    assert not res.ok and not res.timed_out and res.error is None
    assert box.exec(["python3", "-c", "import sys; print(sys.argv[1])", "a b"]).stdout == "a b\n"
    assert box.exec("echo $FOO", env={"FOO": "bar"}).stdout == "bar\n"
    assert box.exec("pwd").stdout.strip() == "/work"


def test_files_and_diff(box):
    box.write_files({"src/app.py": "def f():\n    return 2\n", "new/deep/x.bin": bytes(range(256))})
    assert box.read_file("new/deep/x.bin") == bytes(range(256))
    with pytest.raises(FileNotFoundError):
        box.read_file("missing.txt")
    with pytest.raises(SnapshotError):
        box.write_files({"../escape": "x"})
    patch = box.diff()
    assert "-    return 1" in patch and "+    return 2" in patch and "new/deep/x.bin" in patch
    assert "README.md" not in patch


def test_missing_command_is_127_with_error(box):
    for cmd in ("no-such-command --flag", ["no-such-binary"]):
        res = box.exec(cmd)
        assert res.exit_code == 127 and res.error and "not found" in res.error


# -- isolation ----------------------------------------------------------------------------
def test_no_network(box):
    server = socket.socket()
    server.bind(("0.0.0.0", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        probe = textwrap.dedent(f"""
            import socket, os
            print(sorted(os.listdir('/sys/class/net')))
            for host in ('127.0.0.1', '172.17.0.1', '8.8.8.8'):
                try:
                    socket.create_connection((host, {port}), timeout=2).close()
                    print('CONNECTED', host)
                except OSError as e:
                    print('refused', host, type(e).__name__)
        """)
        res = box.exec(["python3", "-c", probe])
        assert res.exit_code == 0, res
        assert "CONNECTED" not in res.stdout
        assert res.stdout.splitlines()[0] == "['lo']"
        # the listener is real: the host itself can reach it
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        server.close()


def test_read_only_root_and_non_root_user(box):
    for path in ("/etc/evil", "/usr/bin/evil", "/evil"):
        res = box.exec(f"echo x > {path}")
        assert res.exit_code != 0, path
    assert box.exec("id -u; id -g").stdout.split() == ["1000", "1000"]
    assert box.exec("echo x > /tmp/ok && echo x > /work/ok2 && rm /work/ok2").exit_code == 0


def test_capabilities_dropped(box):
    status = box.exec("cat /proc/self/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    for cap in ("CapEff", "CapPrm", "CapBnd"):
        assert int(fields[cap].strip(), 16) == 0, (cap, fields[cap])
    assert fields["NoNewPrivs"].strip() == "1"


# -- resource limits ----------------------------------------------------------------------
@pytest.mark.slow
def test_memory_bomb_is_killed(box):
    res = box.exec(["python3", "-c", "x = b'x' * (512 << 20); print('survived')"], timeout=20)
    assert res.exit_code != 0 and "survived" not in res.stdout
    assert box.exec("echo alive").stdout == "alive\n"


@pytest.mark.slow
def test_fork_bomb_is_contained(box):
    t0 = time.monotonic()
    res = box.exec("bomb() { bomb | bomb & }; bomb; sleep 30", timeout=3)
    # either the bomb runs until the timeout, or its own shell can no longer fork and gives up
    assert res.timed_out or res.exit_code != 0, res
    assert time.monotonic() - t0 < 3 + docker_backend.EXEC_GRACE_S + 5
    assert box.exec("echo alive").stdout == "alive\n"
    assert leftover_pids(box) == []


def test_timeout_kills_whole_tree(box):
    res = box.exec("sleep 60 & sleep 60 & sh -c 'sleep 60' & wait", timeout=1)
    assert res.timed_out and res.exit_code is None and res.error
    assert res.duration < 1 + docker_backend.EXEC_GRACE_S
    assert leftover_pids(box) == []


def test_daemon_child_does_not_outlive_exec(box):
    res = box.exec("setsid sh -c 'while :; do date >> /tmp/beat; sleep 0.1; done' "
                   "</dev/null >/dev/null 2>&1 & echo started", timeout=5)
    assert res.ok and res.stdout == "started\n"
    assert leftover_pids(box) == []
    size = box.exec("wc -c < /tmp/beat").stdout
    time.sleep(0.5)
    assert box.exec("wc -c < /tmp/beat").stdout == size


@pytest.mark.slow
def test_gigabyte_of_stdout_is_capped(box):
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = box.exec("head -c 1073741824 /dev/zero; echo done >&2", timeout=60)
    assert res.exit_code == 0 and res.output_truncated
    assert len(res.stdout) == SMALL.output_bytes and res.stderr == "done\n"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 200, f"harness memory grew by {grown_mb:.0f} MB"


def test_disk_full_is_contained(box):
    res = box.exec("head -c 64M /dev/zero > big.bin", timeout=20)
    assert res.exit_code != 0 and "No space left" in res.stderr
    res = box.exec("head -c 64M /dev/zero > /tmp/big.bin", timeout=20)
    assert res.exit_code != 0 and "No space left" in res.stderr
    assert box.exec("rm -f big.bin /tmp/big.bin && echo ok").stdout == "ok\n"


# -- cleanup -------------------------------------------------------------------------------
def test_container_removed_after_close():
    with open_docker_sandbox({"a.txt": "a"}, SMALL) as b:
        cid = b.id
        assert container_exists(cid)
    assert not container_exists(cid)


HOLDER = """
import sys, time
from codeagent.sandbox import SandboxLimits
from codeagent.sandbox.docker import open_docker_sandbox
box = open_docker_sandbox({"a.txt": "a"}, SandboxLimits())
print(box.id, flush=True)
time.sleep(120)
"""


# the pool is made on the main thread, the sandbox is opened by a worker thread
POOL_HOLDER = """
import threading, time
from codeagent.sandbox import SandboxLimits
from codeagent.sandbox.pool import SandboxPool
pool = SandboxPool("docker", size=1, limits=SandboxLimits())
def work():
    with pool.checkout({"a.txt": "a"}) as box:
        print(box.id, flush=True)
        time.sleep(120)
threading.Thread(target=work, daemon=True).start()
time.sleep(120)
"""


def _spawn_holder(script: str = HOLDER) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    cid = proc.stdout.readline().strip()
    assert cid and container_exists(cid), "holder process did not start a sandbox"
    return proc, cid


@pytest.mark.slow
def test_stale_container_of_killed_harness_is_cleaned_at_next_start():
    proc, cid = _spawn_holder()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert container_exists(cid), "SIGKILL cannot run handlers: the container is stale now"
    # the next harness process to start a sandbox removes it
    subprocess.run([sys.executable, "-c", "from codeagent.sandbox.docker import open_docker_sandbox\n"
                    "from codeagent.sandbox import SandboxLimits\n"
                    "open_docker_sandbox({'b': 'b'}, SandboxLimits()).close()"],
                   cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=True, timeout=60)
    assert not container_exists(cid)


@pytest.mark.slow
@pytest.mark.parametrize("script", [HOLDER, POOL_HOLDER], ids=["main-thread", "pool-worker-thread"])
def test_sigterm_removes_containers(script):
    proc, cid = _spawn_holder(script)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == -signal.SIGTERM
    assert not container_exists(cid)


# -- clear errors --------------------------------------------------------------------------
def test_missing_image_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CODEAGENT_SANDBOX_IMAGE", "codeagent-sandbox-python:no-such-tag")
    with pytest.raises(SandboxError, match=r"no-such-tag.*`codeagent sandbox build`"):
        open_docker_sandbox({"a": "a"}, SMALL)
    usable, why = docker_backend.docker_status()
    assert not usable and "codeagent sandbox build" in why


def test_missing_daemon_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(docker_backend, "_client", None)
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(SandboxError, match=r"Docker daemon not reachable at unix:///nonexistent/docker.sock.*dockerd"):
        open_docker_sandbox({"a": "a"}, SMALL)
    assert docker_backend.docker_status()[0] is False


@pytest.mark.parametrize("snapshot, message", [
    ({"../outside": "x"}, "escapes"),
    ({"/etc/passwd": "x"}, "absolute"),
    ({".git/config": "x"}, "git internals"),
    (Path("/nonexistent/repo"), "does not exist"),
])
def test_bad_snapshot_is_refused_before_any_container(snapshot, message):
    with pytest.raises(SnapshotError, match=message):
        open_docker_sandbox(snapshot, SMALL)


def test_candidate_cannot_kill_pid1_or_outlive_killing_the_wrapper(box):
    res = box.exec("kill -KILL 1; kill -TERM 1; kill -STOP 1; echo tried", timeout=5)
    assert res.stdout == "tried\n"
    # killing every process it can see (the harness wrapper included) leaves the sandbox usable
    res = box.exec(["python3", "-c", "import os, time; os.kill(-1, 9); time.sleep(60)"], timeout=2)
    assert res.timed_out or res.exit_code != 0
    assert res.duration < 2 + 2 * docker_backend.EXEC_GRACE_S
    assert box.exec("echo alive").stdout == "alive\n"
    assert leftover_pids(box) == []
    assert box.exec("cat /proc/1/status").stdout.count("State:\tS") == 1
