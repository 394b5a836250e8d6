"""The run stage: every (task, sample) pair of a task set through an agent, in sandboxes.

Writes into the run folder OUT (`codeagent.runfolder` owns its files):
- the config: everything needed to reproduce the run (written once; a rerun with a different
  config is refused unless only how-it-runs fields differ, see SAFE_FIELDS);
- the attempts: one `Attempt` per line, appended and fsynced as each finishes;
- the run summary: counts of the whole run so far.

Resumable: killed at any point and rerun with the same OUT, it runs exactly the missing pairs.
Sample seeds depend only on (seed, task id, sample index), so a resumed run samples what an
uninterrupted one would have.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import codeagent
from codeagent.agents import make_agent
from codeagent.errors import UserError
from codeagent.executor import make_executor
from codeagent.models import DEFAULT_MODEL
from codeagent.progress import ProgressBar
from codeagent.runfolder import CONFIG_FILE, TRAJECTORIES_FILE, RunFolder, RunFolderError
from codeagent.sandbox import SandboxLimits
from codeagent.tasks import Task, load_tasks
from codeagent.trajectory import FORMAT_VERSION, Attempt, attempt_id

INFRA_STATUSES = ("model-error", "sandbox-error")

# config.json fields that may change between a run and its resumption: they say how the run
# executes, not what it samples. Every other field must match.
SAFE_FIELDS = ("concurrency", "backend", "base_url", "executor", "executor_options", "progress", "max_infra_errors",
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
    model_options: dict = field(default_factory=dict)
    """Options of the model's backend, e.g. {"max_model_len": 8192} for a `vllm:` model (its
    server's context window: a multi-turn agent needs more than the default 2048 tokens)."""
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
    min_tier: int | None = None
    """Only tasks of at least this difficulty tier (sets whose tasks carry one, e.g. pyfuncs' 1-4;
    applied before `max_tasks`): a capable model leaves room to measure only on the harder tiers."""
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
    """Fan-out backend (`codeagent.executor.EXECUTORS`): `local` (threads) or `ray` (a cluster)."""
    executor_options: dict = field(default_factory=dict)
    """Options of the executor, e.g. {"address": "HOST:PORT"} for `ray`."""
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


def tasks_of_tier(tasks: list, min_tier: int, task_set: str) -> list:
    """The tasks of tier >= `min_tier`, in their order; a set without tiers is an error, not a silent
    empty or whole run."""
    untiered = [t.id for t in tasks if t.metadata.get("tier") is None]
    if untiered:
        raise RunError(f"--min-tier {min_tier}: task set {task_set!r} has tasks without a tier (e.g. {untiered[0]}); "
                       "drop --min-tier for this set")
    return [t for t in tasks if t.metadata["tier"] >= min_tier]


def run_agent(config: RunConfig, out: Path) -> RunSummary:
    """Run (or resume) `config` into folder `out`."""
    started = time.monotonic()
    folder = RunFolder(out)
    tasks = load_tasks(config.task_set, config.split)
    if config.only_task_ids is not None:
        wanted = set(config.only_task_ids)
        missing = sorted(wanted - {t.id for t in tasks})
        if missing:
            raise RunError(f"task id(s) not in task set {config.task_set!r}"
                           + (f" split {config.split!r}" if config.split else "") + f": {', '.join(missing[:5])}")
        tasks = [t for t in tasks if t.id in wanted]
    if config.min_tier is not None:
        tasks = tasks_of_tier(tasks, config.min_tier, config.task_set)
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
    record = _reconcile(folder, record, agent_defaults=make_agent(config.agent).config_dict())

    done = folder.attempt_ids()
    pending = [(t, k) for t in tasks for k in range(config.samples) if attempt_id(t.id, k) not in done]
    n_new, tokens = 0, [0, 0]
    if pending:
        n_new, tokens = _execute(config, record, agent, pending, folder, len(done), len(tasks) * config.samples)
    summary = _summarise(record, folder, tasks, config.samples, n_new, tokens, time.monotonic() - started)
    folder.write_summary(summary.to_dict())
    return summary


def _execute(config: RunConfig, record: dict, agent, pending, folder: RunFolder, n_before: int,
             n_total: int) -> tuple[int, list[int]]:
    from codeagent.rollout import Rollout

    # The executor opens the rollout (model replica + sandbox pool) wherever it runs attempts:
    # here for `local`, once per Ray actor for `ray`. Attempts come back here; only we write.
    attempt = Rollout(config, record["run_id"], log_dir=folder.path)
    n_new, tokens, streak = 0, [0, 0], []
    executor = writer = progress = None
    try:
        executor = make_executor(config.executor, workers=config.concurrency, **config.executor_options)
        writer = folder.attempts_writer()
        progress = ProgressBar("run", n_total, enabled=config.progress, completed=n_before, rates=True)
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
                    progress.advance(tokens=a.prompt_tokens + a.completion_tokens)
                streak = []
            if len(streak) >= config.max_infra_errors:
                last = streak[-1].error if isinstance(streak[-1], Attempt) else streak[-1]
                raise RunError(f"stopping: {len(streak)} attempts in a row failed outside the agent's control "
                               f"(model server or sandbox); last error: {last}. The {n_before + n_new} attempts "
                               f"in {folder.file(TRAJECTORIES_FILE)} are kept; fix the cause and rerun the same command to finish the rest.")
        for a in streak:  # isolated infra failures at the very end are real outcomes of those attempts
            if isinstance(a, Attempt):
                writer.append(a.to_dict())
                n_new += 1
                tokens[0] += a.prompt_tokens
                tokens[1] += a.completion_tokens
    finally:
        for part in (progress, writer, executor, attempt):
            close = getattr(part, "close", None)
            if close:
                close()
    return n_new, tokens


def _check_task(task: Task) -> None:
    leaked = set(task.heldout_tests) & set(task.repo_files)
    if leaked:
        raise RunError(f"task {task.id}: held-out test file(s) {sorted(leaked)} are also in its repo files; "
                       "an agent would see them. Fix the task set.")


def _config_record(config: RunConfig, agent_config: dict, tasks: list[Task]) -> dict:
    d = asdict(config)
    d.pop("agent_options")  # recorded resolved, as agent_config
    return {"format_version": FORMAT_VERSION, "run_id": None, **d, "agent_config": agent_config,
            "task_ids": [t.id for t in tasks], "code_version": code_version(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def _field_defaults() -> dict:
    """RunConfig's fields at their defaults, as a record stores them (task_set has none: it is
    always recorded)."""
    return json.loads(json.dumps(asdict(RunConfig(task_set="")), default=str))


def _reconcile(folder: RunFolder, record: dict, agent_defaults: dict | None = None) -> dict:
    """Write the config of a new run, or check a rerun against it and note the resumption.

    An agent option the recorded run predates counts as its default (`agent_defaults`): a newer
    agent that gained an option whose default keeps the old behaviour can resume an older run."""
    out = folder.path
    if not folder.has_config():
        if folder.has_attempts():
            raise RunError(f"{out}: has {TRAJECTORIES_FILE} but no {CONFIG_FILE}; use a new --out")
        record["run_id"] = f"{out.resolve().name}-{uuid.uuid4().hex[:8]}"
        folder.write_config(record)
        return record
    try:
        old = folder.config(required=())
    except RunFolderError as e:
        raise RunError(str(e)) from None
    record = json.loads(json.dumps(record))  # compare as stored (tuples are lists in JSON)
    if isinstance(old.get("agent_config"), dict) and agent_defaults:
        old = {**old, "agent_config": {**json.loads(json.dumps(agent_defaults)), **old["agent_config"]}}
    # Likewise a RunConfig field added since (e.g. model_options) counts as its default.
    old = {**{k: v for k, v in _field_defaults().items() if k in record}, **old}
    differ = config_differences({k: v for k, v in old.items() if k not in SAFE_FIELDS},
                          {k: v for k, v in record.items() if k not in SAFE_FIELDS})
    if differ:
        lines = "; ".join(f"{k}: was {_short(a)}, now {_short(b)}" for k, a, b in differ)
        raise RunError(f"{out} holds a run with a different config ({lines}). Rerun with the same settings "
                       f"to resume it, or pass a new --out.")
    merged = {**old, **{k: record[k] for k in SAFE_FIELDS if k in record and k not in ("run_id", "created")}}
    merged["resumed"] = [*old.get("resumed", []), record["created"]]
    folder.write_config(merged)
    return merged


def config_differences(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted field, old value, new value) for every field that differs, nested dicts included."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append((prefix + k, a, b))
    return out


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


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


def _summarise(record: dict, folder: RunFolder, tasks: list[Task], samples: int, n_new: int, tokens: list[int],
               wall: float) -> RunSummary:
    wanted = {attempt_id(t.id, k) for t in tasks for k in range(samples)}
    rows = [a for a in folder.attempts(required=False) if a.attempt_id in wanted]
    return RunSummary(run_id=record["run_id"], out=str(folder.path), n_expected=len(wanted), n_done=len(rows),
                      n_new=n_new, exit_statuses=dict(Counter(a.exit_status for a in rows)),
                      prompt_tokens=tokens[0], completion_tokens=tokens[1], wall_s=round(wall, 3))


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
