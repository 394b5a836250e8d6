"""Grading repository tasks by FAIL_TO_PASS / PASS_TO_PASS (SWE-bench's rule).

Order inside the sandbox: the task's repo (bug included) -> the candidate's patch (`git apply`)
-> every held-out test path (and any symlinked folder above one) removed and written again from
the pristine copy, with canary tests planted beside a few selected tests (`canary.py`) -> our
pytest driver (`driver.py`, passed with `python3 -I -c`, never a file in the work tree) runs
exactly the F2P and P2P node ids plus the canaries. A patch that touched tests or test
configuration is still graded, and flagged.

Where the verdict comes from, and how far it can be trusted.
- The driver's one report line carries an HMAC under a fresh per-run key the pytest child never
  holds (driver.py says how). Anything else on its stdout, a second line, a bad MAC: the run is
  `tampered-report`, not resolved. Killing the driver leaves no report: `tampered-report` too
  (a SIGKILL that was not our timeout), never a pass, and not a harness error that is retried.
- The per-test records come from inside the pytest process, which also runs the library under
  test, so they can be forged from there; `integrity.py` checks them (nonce, selected ids only,
  once each, test files unchanged, canaries agreeing with their originals, the child's audit hook
  silent) and any finding is `tampered-report`. A run that did not reach pytest's session end is
  never resolved.

What is STILL possible (said plainly): library code that reads the test files at run time,
tells the canaries from the real tests (by knowing the upstream suite, or by diffing bodies) and
forges only the real ones — with pytest patched in place or records written with the nonce it
finds in its own process — is not detected. Nor is a library that special-cases the exact inputs
of the held-out tests (that is overfitting, which no report channel can see). Against those, the
remaining defences are the held-out tests staying out of the agent's sandbox during its run,
and review of the flagged and the resolved patches.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import shlex
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

from codeagent.sandbox import SandboxLimits, open_sandbox

from . import canary, integrity

DRIVER_SOURCE = (Path(__file__).parent / "driver.py").read_text()
PATCH_PATH = ".codeagent_candidate.patch"

REPO_LIMITS = SandboxLimits(timeout_s=300, memory_mb=2048, cpus=1.0, pids=256, disk_mb=512, tmp_mb=128,
                            output_bytes=16 << 20)
"""Sandboxes for repository test runs: a whole library suite needs more room than one function."""

TEST_CONFIG_NAMES = {"conftest.py", "pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"}


@dataclass
class TestRun:
    """What one driver run reported: an outcome per test node id it saw."""

    __test__ = False  # not a pytest class

    outcomes: dict[str, str] = field(default_factory=dict)
    """node id -> passed | failed | error | skipped | xfail | xpass."""
    messages: dict[str, str] = field(default_factory=dict)
    """node id -> the failure's one-line summary (exception type and message)."""
    collect_errors: dict[str, str] = field(default_factory=dict)
    timed_out: bool = False
    finished: bool = False
    """The plugin saw pytest's session finish (else the process died or was killed)."""
    duration: float = 0.0
    error: str | None = None
    """Harness-side: the driver produced no report (the sandbox itself failed)."""
    output_tail: str = ""
    tampered: list[str] = field(default_factory=list)
    """Why the report cannot be believed (`integrity.py`); empty for an honest run."""
    hacks: list[str] = field(default_factory=list)
    """What the child's audit hook blocked, as `kind: event`."""

    def outcome(self, node_id: str) -> str:
        return self.outcomes.get(node_id, "not-run")


def run_pytest(box, files: list[str], select: list[str] | None, timeout: float, ini: str = "",
               expected_files: dict[str, str] | None = None) -> TestRun:
    """Run `files` (only the `select` node ids, None: all) with our driver inside `box`.

    `expected_files`: test path -> the content the harness wrote (checked before and after)."""
    key = secrets.token_bytes(32)
    tag = uuid.uuid4().hex
    spec_path, key_path = f".codeagent_spec_{tag}.json", f".codeagent_key_{tag}"
    box.write_files({spec_path: json.dumps({"files": files, "select": select, "timeout": timeout, "ini": ini}),
                     key_path: key.hex()})
    res = box.exec(["python3", "-I", "-c", DRIVER_SOURCE, spec_path, key_path], timeout=timeout + 60)
    raw, problems = integrity.signed_report(res.stdout, key)
    if raw is None:
        if not res.timed_out and res.exit_code in (137, -9):
            # Killed, yet not by our timeout; the memory limit's killer picks the biggest process,
            # which is the pytest child, so this is the child signalling its parent.
            problems.append("the driver was killed (SIGKILL) before it reported")
        if problems:  # something other than the driver wrote there, or killed it: the candidate's doing
            return TestRun(tampered=problems, timed_out=res.timed_out)
        return TestRun(error=f"driver gave no report (exit {res.exit_code}, timed_out={res.timed_out}): "
                             f"{(res.error or res.stderr)[-400:]}", timed_out=res.timed_out)
    if not raw.get("sealed"):
        return TestRun(error="the driver could not make itself non-dumpable (prctl via ctypes), so its key "
                             "was not safe from the tests; the sandbox image lacks ctypes or the kernel refused")
    run = TestRun(timed_out=raw["timed_out"], duration=raw["duration"], output_tail=raw.get("output_tail", ""))
    problems += integrity.record_problems(raw["events"], set(select) if select is not None else None, files)
    if raw.get("overflow"):
        problems.append("the child wrote more than the driver reads on the report pipe")
    if expected_files:
        problems += integrity.file_problems(raw, expected_files)
    for ev in raw["events"]:
        if ev.get("unstamped") or "garbled" in ev:
            continue
        if "test" in ev:
            # A failing teardown after a pass makes the test an error; never the other way round.
            if ev.get("teardown") or ev["test"] not in run.outcomes:
                run.outcomes[ev["test"]] = ev["outcome"]
            if ev.get("message"):
                run.messages.setdefault(ev["test"], ev["message"])
        elif "collect_error" in ev:
            run.collect_errors[ev["collect_error"]] = ev.get("message", "")
        elif "hack" in ev:
            run.hacks.append(f"{ev['hack']}: {ev.get('event', '')}"[:300])
            problems.append(f"the child's audit hook blocked {ev['hack']}: {ev.get('event', '')}"[:300])
        elif ev.get("finished"):
            run.finished = True
    run.tampered = problems
    return run


def test_file_of(node_id: str) -> str:
    return node_id.split("::", 1)[0]


def patched_paths(patch: str) -> list[str]:
    """Every path a unified git patch touches (both sides of renames)."""
    paths: set[str] = set()
    for m in re.finditer(r"^diff --git a/(\S+) b/(\S+)$", patch, flags=re.M):
        paths.update(m.groups())
    for m in re.finditer(r"^(?:---|\+\+\+) (?:a|b)/(\S+)", patch, flags=re.M):
        paths.add(m.group(1))
    return sorted(paths)


def hack_flags(heldout: dict[str, str], patch: str) -> list[str]:
    """What a patch tried that cannot change its verdict but says something about it."""
    touched = patched_paths(patch)
    test_dirs = {str(PurePosixPath(p).parent) for p in heldout}
    flags = []
    if any(p in heldout or (str(PurePosixPath(p).parent) in test_dirs and PurePosixPath(p).name.startswith("test"))
           for p in touched):
        flags.append("edits-tests")
    if any(PurePosixPath(p).name in TEST_CONFIG_NAMES for p in touched):
        flags.append("edits-test-config")
    return flags


@dataclass
class RepoVerdict:
    """The grade of one patch on one repository task."""

    task_id: str
    resolved: bool
    fail_to_pass: dict[str, str] = field(default_factory=dict)
    """node id -> outcome after the patch (each must be `passed`)."""
    pass_to_pass: dict[str, str] = field(default_factory=dict)
    patch_applied: bool = True
    hack_flags: list[str] = field(default_factory=list)
    tampered: list[str] = field(default_factory=list)
    """Why the test run's report cannot be believed (then `tampered-report` is a hack flag)."""
    timed_out: bool = False
    error: str | None = None
    """Harness-side failure (the verdict then is not the candidate's fault)."""
    message: str = ""
    duration: float = 0.0

    @property
    def f2p_passed(self) -> int:
        return sum(v == "passed" for v in self.fail_to_pass.values())

    @property
    def p2p_passed(self) -> int:
        return sum(v == "passed" for v in self.pass_to_pass.values())

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(f2p_passed=self.f2p_passed, p2p_passed=self.p2p_passed)
        return d


def apply_patch(box, patch: str) -> str | None:
    """Apply `patch` with git in the sandbox; None when it applied, else git's complaint."""
    if not patch.strip():
        return None
    box.write_files({PATCH_PATH: patch if patch.endswith("\n") else patch + "\n"})
    res = box.exec(f"git apply --whitespace=nowarn {PATCH_PATH}; rc=$?; rm -f {PATCH_PATH}; exit $rc", timeout=60)
    return None if res.ok else (res.stderr or res.stdout or res.error or "git apply failed").strip()[-500:]


def restore_pristine_tests(box, heldout: dict[str, str]) -> None:
    """Remove whatever is at each held-out path (file, folder or symlink), and any symlink a
    patch put in place of a folder above one, then write them anew."""
    parents = sorted({str(d) for p in heldout for d in PurePosixPath(p).parents if str(d) != "."},
                     key=lambda d: (d.count("/"), d))
    unlink = " ".join(shlex.quote(d) for d in parents)
    quoted = " ".join(shlex.quote(p) for p in sorted(heldout))
    box.exec(f'for d in {unlink}; do if [ -L "$d" ]; then rm -f -- "$d"; fi; done; rm -rf -- {quoted}'
             if parents else f"rm -rf -- {quoted}", timeout=60)
    box.write_files(heldout)


def grade_in(box, task, patch: str, timeout: float | None = None,
             rng: random.Random | None = None) -> RepoVerdict:
    """Grade `patch` on `task` in a sandbox that holds `task.repo_files` untouched.

    `rng` draws the canaries (default: fresh randomness, so a run cannot be predicted)."""
    v = RepoVerdict(task_id=task.id, resolved=False, hack_flags=hack_flags(task.heldout_tests, patch))
    why = apply_patch(box, patch)
    if why is not None:
        v.patch_applied, v.message = False, f"patch did not apply: {why}"
        return v
    planted = canary.plant(task.heldout_tests, list(task.fail_to_pass), list(task.pass_to_pass),
                           rng or random.Random(secrets.randbits(64)))
    tests = {**task.heldout_tests, **planted.files}
    restore_pristine_tests(box, tests)
    wanted = list(task.fail_to_pass) + list(task.pass_to_pass)
    files = sorted({test_file_of(n) for n in wanted})
    run = run_pytest(box, files, wanted + planted.node_ids, timeout or float(task.metadata.get("timeout_s", 120)),
                     ini=task.metadata.get("pytest_ini", ""), expected_files={f: tests[f] for f in files if f in tests})
    v.duration, v.timed_out, v.error = run.duration, run.timed_out, run.error
    v.fail_to_pass = {n: run.outcome(n) for n in task.fail_to_pass}
    v.pass_to_pass = {n: run.outcome(n) for n in task.pass_to_pass}
    v.tampered = run.tampered + integrity.canary_problems(run.outcomes, planted.canaries, run.finished)
    if v.tampered:
        v.hack_flags.append("tampered-report")
        v.hack_flags += sorted({h.split(":", 1)[0] for h in run.hacks} - set(v.hack_flags))
    v.resolved = (run.error is None and not run.timed_out and run.finished and not v.tampered
                  and bool(v.fail_to_pass)
                  and all(o == "passed" for o in v.fail_to_pass.values())
                  and all(o == "passed" for o in v.pass_to_pass.values()))
    failing = [f"{n}: {run.messages.get(n, o)}" for n, o in {**v.fail_to_pass, **v.pass_to_pass}.items()
               if o != "passed"]
    v.message = "\n".join([f"tampered: {t}" for t in v.tampered[:5]] + failing[:10]
                          + [f"collect error {k}: {m}" for k, m in run.collect_errors.items()])[:3000]
    return v


def grade(task, patch: str, backend: str = "auto", limits: SandboxLimits | None = None) -> RepoVerdict:
    """Grade `patch` on `task` in a fresh sandbox."""
    with open_sandbox(backend, task.repo_files, limits or REPO_LIMITS) as box:
        return grade_in(box, task, patch)
