"""The local backend against real processes: protocol basics and hostile commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from codeagent.sandbox import Sandbox, SandboxLimits, SnapshotError, open_sandbox
from codeagent.sandbox import procutil
from codeagent.sandbox.local import LocalSandbox, probe

LIMITS = SandboxLimits(timeout_s=10, memory_mb=256, cpu_seconds=20, pids=64, disk_mb=32,
                       output_bytes=64 << 10)
SNAP = {"pkg/mod.py": "def f():\n    return 1\n", "README.md": "hello\n", "data.bin": b"\x00\x01\x02"}
ROOT = os.geteuid() == 0


@pytest.fixture
def sb():
    with open_sandbox("local", SNAP, LIMITS) as s:
        yield s


def _alive(s: LocalSandbox) -> list[int]:
    """Processes of the sandbox's own uid (as root); the namespace's otherwise."""
    return [p for p in procutil.pids_of_uid(s._lay.uid) if procutil._not_zombie(p)] if ROOT else []


# -- protocol basics -----------------------------------------------------------------------------
def test_is_a_sandbox_and_says_it_is_weaker(sb):
    assert isinstance(sb, Sandbox) and sb.backend == "local"
    import codeagent.sandbox.local as local
    assert "WEAKER isolation than Docker" in local.__doc__
    assert "reading world-readable host files" in local.__doc__
    assert sb.isolation["pid_namespace"] == sb.isolates_pids


def test_exec_runs_in_the_repo(sb):
    r = sb.exec("cat README.md; echo err >&2; exit 3")
    assert (r.exit_code, r.stdout, r.stderr, r.timed_out) == (3, "hello\n", "err\n", False)
    assert 0 < r.duration < 10
    r = sb.exec(["python3", "-c", "import os, pkg.mod; print(os.getcwd(), pkg.mod.f())"])
    assert r.ok and r.stdout == f"{sb.workdir} 1\n"


def test_environment_is_scrubbed(sb, monkeypatch):
    monkeypatch.setenv("HARNESS_SECRET", "do-not-leak")
    r = sb.exec("env", env={"MINE": "yes"})
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert "HARNESS_SECRET" not in env and env["MINE"] == "yes"
    assert env["PATH"] and env["LANG"]
    assert env["HOME"] == env["TMPDIR"] and not env["HOME"].startswith("/root")
    r = sb.exec('touch "$TMPDIR/x" && echo ok')
    assert r.stdout == "ok\n"


@pytest.mark.skipif(not ROOT, reason="drops privileges only when the harness runs as root")
def test_never_runs_candidate_code_as_root(sb):
    r = sb.exec("id -u; id -G; grep NoNewPrivs /proc/self/status")
    uid, groups, nnp = r.stdout.splitlines()
    assert uid != "0" and "0" not in groups.split() and nnp.split()[1] == "1"
    assert sb.isolates_pids, "root can always make a PID namespace"
    assert sb.exec("ls /root").exit_code != 0


def test_missing_command_is_data_not_an_exception(sb):
    for cmd in ("no-such-command-xyz --flag", ["no-such-command-xyz", "--flag"]):
        r = sb.exec(cmd)
        assert r.exit_code == 127 and "no-such-command-xyz" in r.error


def test_write_read_and_diff_applies_to_a_copy(sb, tmp_path):
    sb.write_files({"pkg/mod.py": "def f():\n    return 2\n", "new/dir/n.txt": "new\n"})
    sb.exec("rm README.md && printf '\\000\\377' > data.bin")
    assert sb.read_file("pkg/mod.py") == b"def f():\n    return 2\n"
    with pytest.raises(FileNotFoundError):
        sb.read_file("README.md")
    patch = sb.diff()
    assert "+    return 2" in patch and "new/dir/n.txt" in patch and "GIT binary patch" in patch
    copy = tmp_path / "copy"
    for rel, content in SNAP.items():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        (copy / rel).write_bytes(content.encode() if isinstance(content, str) else content)
    (tmp_path / "p.diff").write_text(patch)
    subprocess.run(["git", "apply", "--binary", str(tmp_path / "p.diff")], cwd=copy, check=True)
    assert (copy / "pkg/mod.py").read_text() == "def f():\n    return 2\n"
    assert not (copy / "README.md").exists() and (copy / "data.bin").read_bytes() == b"\x00\xff"
    assert (copy / "new/dir/n.txt").read_text() == "new\n"


def test_a_clean_sandbox_has_an_empty_diff(sb):
    assert sb.diff() == ""


def test_close_kills_everything_and_removes_the_folder():
    with open_sandbox("local", SNAP, LIMITS) as s:
        workdir = s.workdir
        assert os.path.isdir(workdir)
    assert not os.path.exists(workdir) and not _alive(s)
    with pytest.raises(Exception, match="closed"):
        s.exec("true")


def test_bad_snapshots_are_refused(tmp_path):
    for bad in ({"../x": "a"}, {"/etc/x": "a"}, {".git/config": "a"}):
        with pytest.raises(SnapshotError):
            open_sandbox("local", bad, LIMITS)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "out").symlink_to("/etc/passwd")
    with pytest.raises(SnapshotError, match="symlink"):
        open_sandbox("local", tmp_path / "repo", LIMITS)


def test_candidate_symlinks_are_not_followed_out(sb):
    assert sb.exec("ln -s /etc etc_link && ln -s /etc/passwd pw && mkfifo fifo").ok
    with pytest.raises(SnapshotError):
        sb.write_files({"etc_link/pwned": "x"})
    with pytest.raises(SnapshotError):
        sb.read_file("pw")
    with pytest.raises(SnapshotError):
        sb.write_files({"../escape": "x"})
    start = time.monotonic()
    with pytest.raises(FileNotFoundError):  # a FIFO must not block the harness
        sb.read_file("fifo")
    assert time.monotonic() - start < 2
    assert not Path("/etc/pwned").exists()


# -- hostile commands ----------------------------------------------------------------------------
def test_timeout_kills_the_whole_group(sb):
    r = sb.exec("sleep 100 & sleep 100 & (setsid sleep 100 &); sleep 100", timeout=1)
    assert r.timed_out and r.exit_code is None and r.duration < 5 and "timed out" in r.error
    assert not _alive(sb)
    assert sb.exec("echo ok").stdout == "ok\n"


def test_daemon_does_not_outlive_its_exec(sb):
    r = sb.exec("(setsid sh -c 'while :; do echo x >> log; sleep 0.1; done' >/dev/null 2>&1 &); "
                "nohup sh -c 'while :; do echo y >> log2; sleep 0.1; done' >/dev/null 2>&1 & sleep 0.5")
    assert r.ok and r.duration < 3
    sb.exec("true")
    sizes = len(sb.read_file("log")), len(sb.read_file("log2"))
    assert all(sizes)
    time.sleep(0.6)
    assert (len(sb.read_file("log")), len(sb.read_file("log2"))) == sizes
    assert not _alive(sb)


def test_output_is_capped_and_a_flood_is_killed(sb):
    r = sb.exec("head -c 100000 /dev/zero | tr '\\0' a; echo done >&2")
    assert len(r.stdout) == LIMITS.output_bytes and r.output_truncated and r.stderr == "done\n"
    r = sb.exec("yes", timeout=60)  # endless: killed once past 64x the cap
    assert r.output_truncated and not r.timed_out and r.duration < 30 and "flood" in r.error
    assert len(r.stdout) == LIMITS.output_bytes


def test_memory_bomb_fails_inside(sb):
    r = sb.exec(["python3", "-c", "x = bytearray(2 << 30); print('allocated')"])
    assert r.exit_code not in (0, None) and "allocated" not in r.stdout and "MemoryError" in r.stderr
    assert sb.exec("echo ok").ok


def test_network_is_cut_when_the_machine_allows(sb):
    if not sb.isolation["network_namespace"]:
        pytest.skip("no network namespace on this machine (recorded in sandbox.isolation)")
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        r = sb.exec(["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 2)"])
    finally:
        srv.close()
    assert r.exit_code != 0 and ("unreachable" in r.stderr or "refused" in r.stderr)


@pytest.mark.slow
@pytest.mark.skipif(not ROOT, reason="RLIMIT_NPROC and the PID namespace bound a fork bomb only as root")
def test_fork_bomb_is_bounded_and_leaves_nothing():
    sentinel = subprocess.Popen(["sleep", "120"])
    try:
        with open_sandbox("local", SNAP, LIMITS) as s:
            r = s.exec("f() { f | f & }; f; sleep 30", timeout=4)
            assert r.duration < 10
            assert not _alive(s)
            assert s.exec("echo ok").stdout == "ok\n"
        assert subprocess.run(["true"]).returncode == 0  # the host can still fork
        assert sentinel.poll() is None
    finally:
        sentinel.kill()
        sentinel.wait()


def test_kill_everything_reaches_only_the_sandbox(sb):
    sentinel = subprocess.Popen(["sleep", "120"])
    try:
        r = sb.exec("kill -9 -1; echo after")
        assert sentinel.poll() is None, "kill -1 inside the sandbox reached a host process"
        if sb.isolates_pids:
            assert r.stdout == "after\n"
        assert sb.exec("echo ok").stdout == "ok\n"
    finally:
        sentinel.kill()
        sentinel.wait()


def test_file_size_is_bounded(sb):
    r = sb.exec("dd if=/dev/zero of=big bs=1M count=100")
    assert r.exit_code != 0
    assert len(sb.read_file("big")) <= LIMITS.disk_mb << 20


def test_probe_is_cached_and_describes_the_machine():
    assert probe() is probe()
    assert set(probe()) >= {"root", "pid_ns", "net_ns"}
    if ROOT:
        assert shutil.which("unshare") is None or probe()["pid_ns"]
