"""The run stage: every (task, sample) pair of a task set through an agent, in sandboxes.

Writes into OUT:
- `config.json`: everything needed to reproduce the run (written once; a rerun with a different
  config is refused unless only how-it-runs fields differ, see SAFE_FIELDS).
- `trajectories.jsonl`: one `Attempt` per line, appended and fsynced as each finishes.
- `run_summary.json`: counts of the whole run so far.

Resumable: killed at any point and rerun with the same OUT, it runs exactly the missing pairs.
Sample seeds depend only on (seed, task id, sample index), so a resumed run samples what an
uninterrupted one would have.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import codeagent
from codeagent.agents import make_agent
from codeagent.agents.base import derive_seed
from codeagent.errors import UserError
from codeagent.executor import make_executor
from codeagent.models import DEFAULT_MODEL, SamplingParams, load_model, widen_batch
from codeagent.sandbox import SandboxError, SandboxLimits
from codeagent.tasks import Task, load_tasks
from codeagent.trajectory import FORMAT_VERSION, Attempt, JsonlAppender, attempt_id, read_jsonl

CONFIG_FILE = "config.json"
TRAJECTORIES_FILE = "trajectories.jsonl"
SUMMARY_FILE = "run_summary.json"
INFRA_STATUSES = ("model-error", "sandbox-error")

# config.json fields that may change between a run and its resumption: they say how the run
# executes, not what it samples. Every other field must match.
SAFE_FIELDS = ("concurrency", "backend", "base_url", "executor", "progress", "max_infra_errors",
               "code_version", "created", "resumed", "run_id")


class RunError(UserError):
    """A run that cannot start or has to stop; attempts already written are kept."""


@dataclass
class RunConfig:
    task_set: str
    """Registry name (`humaneval`, `pyfuncs`) or path of a task set folder."""
    split: str | None = None
    """`train` or `test`; None: every task of the set."""
    model: str = DEFAULT_MODEL
    """Model spec (see `codeagent.models`), e.g. `smollm2-135m`, `hf:PATH`, `openai:NAME`, `scripted:FILE`."""
    agent: str = "rewrite"
    """Agent registry name: `rewrite` or `bash`."""
    agent_options: dict = field(default_factory=dict)
    """Overrides of the agent's config dataclass fields (e.g. {"max_steps": 20} for bash)."""
    samples: int = 1
    """Attempts per task."""
    temperature: float = 0.8
    """Sampling temperature (0: greedy, which makes every sample of a task the same)."""
    top_p: float = 0.95
    max_tokens: int = 512
    """Most new tokens per model reply."""
    max_tasks: int | None = None
    """Only the first M tasks of the split (in the set's stable order)."""
    only_task_ids: tuple[str, ...] | None = None
    """Only these tasks of the split (applied before `max_tasks`); an id not in the split is an error."""
    concurrency: int = 4
    """Attempts in flight at once; with a local model this is also its batch size."""
    backend: str = "auto"
    """Sandbox backend: `auto`, `docker` or `local` (WEAKER isolation than docker)."""
    feedback: int = 0
    """rewrite agent: rounds of retry on failures of the task's visible tests."""
    seed: int = 0
    """Root of every sample's seed: seed(task, k) = hash(seed, task id, k)."""
    base_url: str | None = None
    """OpenAI-compatible server for `openai:` models (else $OPENAI_BASE_URL)."""
    executor: str = "local"
    """Fan-out backend (`codeagent.executor.EXECUTORS`)."""
    max_infra_errors: int = 5
    """Stop after this many attempts in a row end with model-error/sandbox-error (a server or
    daemon that keeps failing); those attempts are not written, so a rerun retries them."""
    progress: bool = True
    """Show a progress bar."""
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    """Resource bounds of each attempt's sandbox."""

    def agent_kwargs(self) -> dict:
        options = dict(self.agent_options)
        if self.feedback:
            options["feedback"] = self.feedback
        return options


@dataclass
class RunSummary:
    run_id: str
    out: str
    n_expected: int
    """Task × sample pairs in this run."""
    n_done: int
    """Pairs with an attempt in trajectories.jsonl."""
    n_new: int
    """Attempts made by this invocation."""
    exit_statuses: dict[str, int]
    prompt_tokens: int
    completion_tokens: int
    wall_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def run_agent(config: RunConfig, out: Path) -> RunSummary:
    """Run (or resume) `config` into folder `out`."""
    started = time.monotonic()
    out = Path(out)
    tasks = load_tasks(config.task_set, config.split)
    if config.only_task_ids is not None:
        wanted = set(config.only_task_ids)
        missing = sorted(wanted - {t.id for t in tasks})
        if missing:
            raise RunError(f"task id(s) not in task set {config.task_set!r}"
                           + (f" split {config.split!r}" if config.split else "") + f": {', '.join(missing[:5])}")
        tasks = [t for t in tasks if t.id in wanted]
    if config.max_tasks is not None:
        tasks = tasks[:config.max_tasks]
    if not tasks:
        raise RunError(f"task set {config.task_set!r} has no tasks" + (f" in split {config.split!r}" if config.split else ""))
    if config.samples < 1:
        raise RunError(f"--samples must be at least 1, got {config.samples}")
    agent = make_agent(config.agent, **config.agent_kwargs())
    for task in tasks:
        _check_task(task)
        agent.check(task)
    record = _config_record(config, agent.config_dict(), tasks)
    record = _reconcile(out, record)

    traj = out / TRAJECTORIES_FILE
    done = _existing(traj)
    pending = [(t, k) for t in tasks for k in range(config.samples) if attempt_id(t.id, k) not in done]
    n_new, tokens = 0, [0, 0]
    if pending:
        n_new, tokens = _execute(config, record, agent, pending, traj, len(done), len(tasks) * config.samples)
    summary = _summarise(record, out, tasks, config.samples, n_new, tokens, time.monotonic() - started)
    (out / SUMMARY_FILE).write_text(json.dumps(summary.to_dict(), indent=2) + "\n")
    return summary


def _execute(config: RunConfig, record: dict, agent, pending, traj: Path, n_before: int,
             n_total: int) -> tuple[int, list[int]]:
    from codeagent.sandbox.pool import SandboxPool

    options = {"base_url": config.base_url} if config.base_url else {}
    model = load_model(config.model, log_dir=traj.parent, **options)  # a served model's log stays with the run
    widen_batch(model, config.concurrency)  # concurrent attempts share one batch
    agent_config = agent.config_dict()

    def attempt(item: tuple[Task, int]) -> Attempt:
        task, k = item
        a = Attempt(run_id=record["run_id"], task_id=task.id, task_set=task.task_set, split=task.split,
                    sample_index=k, model=model.spec, agent=agent.name, agent_config=agent_config,
                    sandbox_backend=pool.backend)
        params = SamplingParams(n=1, temperature=config.temperature, top_p=config.top_p,
                                max_tokens=config.max_tokens, seed=derive_seed(config.seed, task.id, k))
        t0 = time.monotonic()
        try:
            with pool.checkout(task.repo_files) as box:  # repo files only: never held-out tests
                agent.run(task, box, model, params, a)
        except SandboxError as e:
            a.exit_status, a.error = "sandbox-error", str(e)
        a.timings["total_s"] = round(time.monotonic() - t0, 3)
        return a

    n_new, tokens, streak = 0, [0, 0], []
    pool = executor = writer = progress = None
    try:
        pool = SandboxPool(config.backend, size=config.concurrency, limits=config.limits, quiet=not config.progress)
        executor = make_executor(config.executor, workers=config.concurrency)
        writer = JsonlAppender(traj)
        progress = _Progress(config.progress, n_total, n_before)
        for outcome in executor.map_unordered(attempt, pending):
            if not outcome.ok:
                task, k = outcome.item
                progress.warn(f"attempt {attempt_id(task.id, k)} crashed (not recorded; a rerun retries it): "
                              f"{type(outcome.error).__name__}: {outcome.error}")
                streak.append(outcome.traceback.strip().splitlines()[-1])
            elif outcome.result.exit_status in INFRA_STATUSES:
                streak.append(outcome.result)
            else:
                for a in [*(s for s in streak if isinstance(s, Attempt)), outcome.result]:
                    writer.append(a.to_dict())
                    n_new += 1
                    tokens[0] += a.prompt_tokens
                    tokens[1] += a.completion_tokens
                    progress.advance(a.prompt_tokens + a.completion_tokens)
                streak = []
            if len(streak) >= config.max_infra_errors:
                last = streak[-1].error if isinstance(streak[-1], Attempt) else streak[-1]
                raise RunError(f"stopping: {len(streak)} attempts in a row failed outside the agent's control "
                               f"(model server or sandbox); last error: {last}. The {n_before + n_new} attempts "
                               f"in {traj} are kept; fix the cause and rerun the same command to finish the rest.")
        for a in streak:  # isolated infra failures at the very end are real outcomes of those attempts
            if isinstance(a, Attempt):
                writer.append(a.to_dict())
                n_new += 1
                tokens[0] += a.prompt_tokens
                tokens[1] += a.completion_tokens
    finally:
        for part in (progress, writer, executor, pool, model):
            close = getattr(part, "close", None)
            if close:
                close()
    return n_new, tokens


def _check_task(task: Task) -> None:
    leaked = set(task.heldout_tests) & set(task.repo_files)
    if leaked:
        raise RunError(f"task {task.id}: held-out test file(s) {sorted(leaked)} are also in its repo files; "
                       "an agent would see them. Fix the task set.")


def _existing(traj: Path) -> set[str]:
    """attempt_ids already written (a torn last line of a killed run is ignored)."""
    seen: set[str] = set()
    for d in read_jsonl(traj):
        seen.add(d.get("attempt_id") or attempt_id(d["task_id"], d["sample_index"]))
    return seen


def _config_record(config: RunConfig, agent_config: dict, tasks: list[Task]) -> dict:
    d = asdict(config)
    d.pop("agent_options")  # recorded resolved, as agent_config
    return {"format_version": FORMAT_VERSION, "run_id": None, **d, "agent_config": agent_config,
            "task_ids": [t.id for t in tasks], "code_version": code_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _reconcile(out: Path, record: dict) -> dict:
    """Write config.json for a new run, or check a rerun against it and note the resumption."""
    path = out / CONFIG_FILE
    if not path.exists():
        if (out / TRAJECTORIES_FILE).exists():
            raise RunError(f"{out}: has {TRAJECTORIES_FILE} but no {CONFIG_FILE}; use a new --out")
        out.mkdir(parents=True, exist_ok=True)
        record["run_id"] = f"{out.resolve().name}-{uuid.uuid4().hex[:8]}"
        _write_json(path, record)
        return record
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise RunError(f"{path}: not valid JSON ({e}); fix it or use a new --out") from None
    record = json.loads(json.dumps(record))  # compare as stored (tuples are lists in JSON)
    differ = _differences({k: v for k, v in old.items() if k not in SAFE_FIELDS},
                          {k: v for k, v in record.items() if k not in SAFE_FIELDS})
    if differ:
        lines = "; ".join(f"{k}: was {_short(a)}, now {_short(b)}" for k, a, b in differ)
        raise RunError(f"{out} holds a run with a different config ({lines}). Rerun with the same settings "
                       f"to resume it, or pass a new --out.")
    merged = {**old, **{k: record[k] for k in SAFE_FIELDS if k in record and k not in ("run_id", "created")}}
    merged["resumed"] = [*old.get("resumed", []), record["created"]]
    _write_json(path, merged)
    return merged


def _differences(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append((prefix + k, a, b))
    return out


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def code_version() -> dict:
    """The package version and, in a source checkout, its git commit."""
    version = {"codeagent": codeagent.__version__, "git": None}
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(codeagent.__file__).parent,
                           capture_output=True, text=True, timeout=5)
        if r.returncode == 0:
            version["git"] = r.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return version


def _summarise(record: dict, out: Path, tasks: list[Task], samples: int, n_new: int, tokens: list[int],
               wall: float) -> RunSummary:
    wanted = {attempt_id(t.id, k) for t in tasks for k in range(samples)}
    rows = {}
    for d in read_jsonl(out / TRAJECTORIES_FILE):
        key = d.get("attempt_id") or attempt_id(d["task_id"], d["sample_index"])
        if key in wanted:
            rows.setdefault(key, d)
    return RunSummary(run_id=record["run_id"], out=str(out), n_expected=len(wanted), n_done=len(rows),
                      n_new=n_new, exit_statuses=dict(Counter(d["exit_status"] for d in rows.values())),
                      prompt_tokens=tokens[0], completion_tokens=tokens[1], wall_s=round(wall, 3))


class _Progress:
    """A rich progress bar with ETA, attempts/s and tokens/s (or nothing when disabled)."""

    def __init__(self, enabled: bool, total: int, completed: int):
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.start = time.monotonic()
        self.n, self.tokens = 0, 0
        self.bar = Progress(TextColumn("run"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[rates]}"),
                            disable=not enabled, transient=False)
        self.task = self.bar.add_task("run", total=total, completed=completed, rates="")
        self.bar.start()

    def advance(self, tokens: int) -> None:
        self.n += 1
        self.tokens += tokens
        elapsed = max(time.monotonic() - self.start, 1e-6)
        self.bar.update(self.task, advance=1,
                        rates=f"{self.n / elapsed:.2f} att/s  {self.tokens / elapsed:,.0f} tok/s")

    def warn(self, message: str) -> None:
        if self.bar.disable:
            print(f"warning: {message}", file=sys.stderr)
        else:
            self.bar.console.print(f"[yellow]warning:[/] {message}", highlight=False, markup=True)

    def close(self) -> None:
        self.bar.stop()


def print_summary(summary: RunSummary) -> None:
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"run {summary.run_id}")
    for col in ("attempts", "new", "prompt tok", "completion tok", "wall s", "exit statuses"):
        table.add_column(col, justify="right")
    statuses = ", ".join(f"{k}={v}" for k, v in sorted(summary.exit_statuses.items()))
    table.add_row(f"{summary.n_done}/{summary.n_expected}", str(summary.n_new), f"{summary.prompt_tokens:,}",
                  f"{summary.completion_tokens:,}", f"{summary.wall_s:.1f}", statuses)
    Console().print(table)
    print(f"trajectories: {Path(summary.out) / TRAJECTORIES_FILE}")
