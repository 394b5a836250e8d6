"""The test engine: runs TestJobs in warm sandboxes, many jobs per exec, one code path for
`codeagent eval` and every verifier.

Jobs are cut into batches; each worker thread owns one long-lived sandbox and runs a batch with
one exec of the in-sandbox runner (`runner.py`), which isolates each job in its own process.

Neighbours keep their verdicts. A candidate can kill its runner (`kill(-1)` reaches every process
of the sandbox uid), which ends the exec with the rest of the batch unreported. The runner names
each job before starting it, so the job in flight when it died is known: it is set aside and the
unreported rest re-run in a fresh sandbox. A set-aside job then runs alone, twice; if it takes its
runner down both times it fails as `killed-harness` (the candidate's fault); if it reports, that
is its verdict. An exec that dies with no job in flight (daemon gone, container died, out of disk)
is retried once; what still has no verdict is `infra_error`, never the candidate's failure.
"""

from __future__ import annotations

import hmac
import json
import secrets
import uuid
from pathlib import Path
from typing import Callable, Sequence

from codeagent.executor import WorkerLost, make_executor
from codeagent.progress import ProgressBar
from codeagent.sandbox import SandboxLimits, resolve_backend
from codeagent.sandbox.pool import SandboxPool

from .base import DEFAULT_TIMEOUT_S, TestJob, TestReport
from .cache import ResultCache
from .runner import JUDGED_WALL_FACTOR, REPORT_PREFIX, SIGNED_PREFIX, START_PREFIX, mac_of


def _runner_program() -> str:
    """`python3 -I -c` text that defines the stdlib-only runner modules and runs the runner.

    Passed on the command line, never written into the sandbox: the candidate owns the sandbox's
    work folder, and a runner file there could be replaced for the next exec."""
    here = Path(__file__).parent
    modules = [(f"codeagent_{name}", (here / f"{name}.py").read_text()) for name in ("wire", "guard", "judge", "runner")]
    return ("import sys, types\n"
            f"for _name, _src in {modules!r}:\n"
            "    _m = types.ModuleType(_name)\n"
            "    sys.modules[_name] = _m\n"
            "    exec(compile(_src, '<' + _name + '>', 'exec'), _m.__dict__)\n"
            "sys.modules['codeagent_runner'].main()\n")


RUNNER_PROGRAM = _runner_program()

# Sandboxes for test execution: bounded, and with room for a batch's reports on stdout.
ENGINE_LIMITS = SandboxLimits(timeout_s=600, memory_mb=2048, cpus=1.0, pids=256, disk_mb=512,
                              tmp_mb=64, output_bytes=16 << 20)


def heldout_job(task, files: dict[str, str], key: str, timeout_s: float = DEFAULT_TIMEOUT_S,
                patch: str | None = None) -> TestJob:
    """The held-out job of `task` for the (already patched) repo `files`.

    The held-out tests are laid over the candidate's files, so a patch cannot replace them.
    Repository tasks are graded from `patch` instead (required for them), as `codeagent.repos.grade`
    does: FAIL_TO_PASS / PASS_TO_PASS with the task's own timeout.
    """
    if task.is_repository_task:
        if patch is None:
            raise ValueError(f"task {task.id} is a repository task: its held-out job needs the patch")
        from codeagent.repos.jobs import repo_job
        return repo_job(task, patch, key)
    return TestJob(key=key, files=dict(files), test_files=dict(task.heldout_tests), timeout_s=timeout_s,
                   judge=function_judge(task))


def function_judge(task) -> dict | None:
    """The judge spec of a function-level task (its tests call one entry point of a .py prompt
    file, run by the harness's own runner), else None: tests then share the candidate's process."""
    path = task.prompt_file
    if not task.entry_point or not path or not path.endswith(".py") or task.test_command \
            or path not in task.repo_files:
        return None
    module = path[:-3].replace("/", ".")
    return {"module": module, "path": path, "entry_point": task.entry_point,
            "trusted_source": task.repo_files[path]}


class TestEngine:
    """Runs TestJobs. `with TestEngine(...) as engine: reports = engine.run(jobs)`."""

    __test__ = False  # not a pytest class

    def __init__(self, backend: str = "auto", workers: int = 2, limits: SandboxLimits | None = None,
                 cache_dir: Path | None = None, batch_size: int = 256, quiet: bool = False,
                 executor: str = "local", executor_options: dict | None = None):
        """executor/executor_options: where batches run (`codeagent.executor.EXECUTORS`); with
        `ray`, each batch is a call on a worker declaring one CPU, in sandboxes of its node."""
        self.backend = resolve_backend(backend, quiet=quiet)
        self.executor = executor
        self.executor_options = dict(executor_options or {})
        self._fan_out = None
        self.workers = max(1, workers)
        self.limits = limits or ENGINE_LIMITS
        self.batch_size = batch_size
        self.cache = ResultCache(cache_dir) if cache_dir else None
        # Empty sandboxes reused as they are: the runner arrives on the command line and cleans
        # a scratch folder per job, so a batch needs no reset. A sandbox that failed is replaced.
        self._pool = SandboxPool(self.backend, size=self.workers, limits=self.limits, quiet=True)

    def close(self) -> None:
        fan_out, self._fan_out = self._fan_out, None
        if fan_out is not None:
            fan_out.close()
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- running ---------------------------------------------------------------------------
    def run(self, jobs: Sequence[TestJob], progress: str | None = None,
            on_report: Callable[[TestReport], None] | None = None) -> list[TestReport]:
        """Reports for `jobs`, in order. `on_report` is called as each one finishes."""
        reports: dict[str, TestReport] = {}
        todo: list[TestJob] = []
        for job in jobs:
            hit = self.cache.get(job) if self.cache else None
            if hit is not None:
                reports[job.key] = hit
                if on_report:
                    on_report(hit)
            else:
                todo.append(job)
        bar = ProgressBar(progress or "", len(jobs), enabled=bool(progress), completed=len(jobs) - len(todo))
        repo_jobs = [j for j in todo if j.repo_task is not None]
        todo = [j for j in todo if j.repo_task is None]
        batches = _batches(todo, self.batch_size, self.workers)

        def done(report: TestReport, job: TestJob) -> None:
            reports[report.key] = report
            if self.cache and report.failure_kind not in ("infra_error", "timeout"):
                self.cache.put(job, report)
            if on_report:
                on_report(report)
            bar.advance()

        if repo_jobs:
            self._run_repo_jobs(repo_jobs, done)
        if not batches:
            bar.close()
            return [reports[j.key] for j in jobs]
        if self._fan_out is None:  # kept across calls: workers and their sandboxes stay warm
            from .remote import RemoteBatches
            self._fan_out = make_executor(self.executor, workers=self.workers, per_worker=1,
                                          **self.executor_options)
            self._remote = RemoteBatches(self.backend, self.limits)
        if self._fan_out.in_process:  # threads here: each job reports as it finishes
            work = lambda b: self.run_batch(b, done)  # noqa: E731
        else:  # other processes: a batch's reports come back with it
            work = self._remote
        by_key = {j.key: j for j in todo}
        try:
            for outcome in self._fan_out.map_unordered(work, batches):
                if isinstance(outcome.error, WorkerLost):  # its worker kept dying: infra, not the candidate
                    for job in outcome.item:
                        done(TestReport(key=job.key, passed=False, failure_kind="infra_error",
                                        message=str(outcome.error)[:500]), job)
                elif not outcome.ok:
                    raise outcome.error
                else:
                    for report in outcome.result or ():
                        done(report, by_key[report.key])
        finally:
            bar.close()
        return [reports[j.key] for j in jobs]

    def _run_repo_jobs(self, jobs: list[TestJob], done) -> None:
        """Repository jobs, `workers` at a time, each in a fresh sandbox of its own (a library's
        suite needs a bigger one than the warm pool's). Always in this process's threads."""
        from concurrent.futures import ThreadPoolExecutor

        from codeagent.repos.jobs import run_repo_job
        with ThreadPoolExecutor(self.workers) as pool:
            for job, report in zip(jobs, pool.map(lambda j: run_repo_job(j, self.backend), jobs)):
                done(report, job)

    def run_batch(self, batch: list[TestJob], done) -> None:
        """Run one batch in this process's sandboxes, calling `done(report, job)` per job: a batch
        dying for infra reasons is retried once in a fresh sandbox, then its jobs are reported as
        infra_error; a job that takes the runner down is blamed alone. `RemoteBatches` (a Ray
        worker) calls it too, so verdicts are the same whichever executor ran the batch."""
        pending = {j.key: j for j in batch}
        suspects: list[TestJob] = []
        infra_tries, last_error = 2, ""
        while pending and infra_tries:
            error, in_flight = self._attempt(list(pending.values()), pending, done)
            if not pending:
                break
            last_error = error or "runner ended without reporting every job"
            if in_flight in pending:
                suspects.append(pending.pop(in_flight))  # took the runner down: re-run the rest
            else:
                infra_tries -= 1  # died with no job to blame: the harness's fault; retried once
        for job in pending.values():
            done(_infra(job, last_error), job)
        for job in suspects:
            self._run_alone(job, done)

    def _run_alone(self, job: TestJob, done) -> None:
        """A job whose runner died while it ran: alone, twice; dying both times is its verdict."""
        kills, error = 0, ""
        for _ in range(2):
            pending = {job.key: job}
            error, in_flight = self._attempt([job], pending, done)
            if not pending:
                return
            kills += in_flight == job.key
        if kills == 2:
            done(TestReport(key=job.key, passed=False, failure_kind="killed-harness",
                            message=f"the sample took its test runner down, also when run alone: {error}"[:500]), job)
        else:
            done(_infra(job, error), job)

    def _attempt(self, jobs: list[TestJob], pending: dict, done) -> tuple[str | None, str | None]:
        """One exec in a (fresh if needed) sandbox: (error or None, key of the job in flight at death)."""
        box = None
        try:
            box = self._pool.acquire({}, reset=False)
            error, in_flight = self._exec_batch(box, jobs, pending, done)
        except Exception as e:  # noqa: BLE001 — any harness/daemon failure is infra
            error, in_flight = f"{type(e).__name__}: {e}", None
        if box is not None:
            self._pool.release(box, healthy=error is None and not pending)
        return error, in_flight

    def _exec_batch(self, box, jobs: list[TestJob], pending: dict, done) -> tuple[str | None, str | None]:
        job_file = f".codeagent_jobs_{uuid.uuid4().hex}.json"
        spec = {
            "scratch": f"{box.workdir}/.codeagent_scratch",
            "reap_all": bool(box.isolates_pids),
            "limits": {"memory_mb": self.limits.memory_mb, "fsize_mb": min(self.limits.disk_mb, 64)},
            "jobs": [{"key": j.key, "files": j.files, "test_files": j.test_files, "timeout": j.timeout_s,
                      "judge": j.judge} for j in jobs],
        }
        # A fresh key per exec: only lines signed with it are the runner's (runner.py says why).
        key = secrets.token_bytes(32)
        key_file = f".codeagent_key_{uuid.uuid4().hex}"
        box.write_files({job_file: json.dumps(spec), key_file: key.hex()})
        budget = sum(j.timeout_s * (JUDGED_WALL_FACTOR if j.judge else 1) + 1.0 for j in jobs) + 30.0
        result = box.exec(["python3", "-I", "-c", RUNNER_PROGRAM, job_file, key_file], timeout=budget)
        in_flight = None
        for line in signed_lines(result.stdout, key):
            if line.startswith(START_PREFIX):
                in_flight = json.loads(line[len(START_PREFIX):])
                continue
            if not line.startswith(REPORT_PREFIX):
                continue
            raw = json.loads(line[len(REPORT_PREFIX):])
            in_flight = None
            job = pending.get(raw.get("key"))
            if job is None or raw.get("infra_error"):
                continue
            del pending[job.key]
            done(to_report(raw), job)
        if pending:
            return (f"runner exec ended (exit {result.exit_code}, timed_out={result.timed_out}) "
                    f"with {len(pending)} job(s) unreported: {(result.error or result.stderr)[-300:]}"), in_flight
        return None, None


def signed_lines(stdout: str, key: bytes):
    """The lines of `stdout` the runner's signer wrote (MAC checked), without their signature.
    Anything else on the stream — a candidate printing there through a process above the runner —
    is ignored; a signed line glued to junk that had no newline is still found."""
    for line in stdout.splitlines():
        at = line.rfind(SIGNED_PREFIX)
        if at < 0:
            continue
        mac, _, text = line[at + len(SIGNED_PREFIX):].partition(" ")
        if hmac.compare_digest(mac, mac_of(key, text)):
            yield text


def _infra(job: TestJob, error: str) -> TestReport:
    return TestReport(key=job.key, passed=False, failure_kind="infra_error", message=error[:500])


def to_report(raw: dict) -> TestReport:
    """Turn the runner's raw events into a verdict. Only the runner's own report counts."""
    per_test = {f"{f}::{n}": "not-run" for f, n in raw["expected"]}
    messages, collect_kind, flags, not_plain, infra, cpu_timeout = [], None, [], [], None, False
    for ev in raw["events"]:
        if "hack" in ev:
            flag = {"kind": str(ev["hack"]), "event": str(ev.get("event", ""))[:300]}
            if flag not in flags:
                flags.append(flag)
        elif "not_plain" in ev:
            not_plain.append(str(ev["not_plain"])[:300])
            if "redefining" in not_plain[-1]:  # its type says how it compares: an always-equal hack
                flag = {"kind": "always-equal", "event": f"returned {not_plain[-1]}"}
                if flag not in flags:
                    flags.append(flag)
        elif "infra" in ev:
            infra = str(ev["infra"])
        elif ev.get("cpu_timeout") is True:
            cpu_timeout = True
        elif "collect_error" in ev:
            collect_kind = collect_kind or ev["collect_error"]
            messages.append(f"{ev['file']}: {ev.get('message', '')}")
        elif "test" in ev:
            key = f"{ev['file']}::{ev['test']}"
            if key in per_test:
                per_test[key] = ev["outcome"]
                if ev.get("message"):
                    messages.append(f"{ev['test']}: {ev['message']}")
    outcomes = set(per_test.values())
    passed = (bool(per_test) and outcomes == {"passed"} and raw["done"] and not raw["timed_out"]
              and not not_plain and infra is None)
    if passed:
        kind = None
    elif infra is not None:
        kind = "infra_error"
        messages.append(infra)
    elif not_plain:
        kind = "not-plain-data"
        messages.append(f"the candidate returned {not_plain[0]}: not plain data")
    elif raw["timed_out"] or cpu_timeout:
        kind = "timeout"
    elif collect_kind:
        kind = collect_kind
    elif not per_test:
        kind = "no-tests"
    elif "error" in outcomes:
        kind = "runtime"
    elif "failed" in outcomes:
        kind = "wrong-answer"
    else:
        kind = "runtime"
        messages.append(f"the test process ended before the tests finished (status {raw['exit_status']})")
    if kind and raw.get("output_tail"):
        messages.append("output: " + raw["output_tail"][-300:])
    return TestReport(key=raw["key"], passed=passed, per_test=per_test, failure_kind=kind,
                      message="\n".join(messages)[:2000], duration=raw["duration"], hack_flags=flags)


BATCHES_PER_WORKER = 4
"""Batches are handed out as workers free up, so a worker stuck on timeouts is not the long pole."""

MIN_BATCH = 48
"""Fewest jobs per batch once every worker has one: each batch costs a file write and an exec
(~0.1 s in Docker), which at n=1 on HumanEval is a visible share of the whole run."""


def _batches(jobs: list[TestJob], size: int, workers: int) -> list[list[TestJob]]:
    # Every worker gets work, and each about BATCHES_PER_WORKER batches when there are enough
    # jobs, taken from a shared queue (the thread pool's). Batches take every n-th job rather
    # than a contiguous run, so that costly neighbours (the samples of one slow task, a family of
    # heavy tasks) are shared out and the workers finish together.
    if not jobs:
        return []
    workers = max(1, workers)
    per_worker = -(-len(jobs) // workers)
    share = max(MIN_BATCH, -(-len(jobs) // (workers * BATCHES_PER_WORKER)))
    size = max(1, min(size, per_worker, share))
    n = -(-len(jobs) // size)
    return [jobs[i::n] for i in range(n)]
