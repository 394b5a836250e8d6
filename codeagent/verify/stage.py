"""The verify stage: attach a verdict to every attempt of a run dir, resumably.

Per chunk of tasks:
  1. candidates: each attempt's patch applied to a fresh copy of the task repo; static hack guard;
  2. generated phase (no held-out content anywhere): generated tests against every candidate and
     the always-equal probe, then the dynamic hack flags and CodeT agreement;
  3. held-out phase: held-out tests copied in after the patch, via `heldout_job`;
  4. one line per attempt appended to verdicts.jsonl.
A task whose attempts all have verdicts (with every requested verifier) is skipped on rerun;
generated tests are reused from generated_tests.jsonl. Last, gap_report.json is rewritten.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from codeagent.evaluation.base import DEFAULT_TIMEOUT_S
from codeagent.evaluation.engine import TestEngine
from codeagent.evaluation.patching import PatchError, apply_patch
from codeagent.models import widen_batch
from codeagent.models.base import Model
from codeagent.trajectory import Attempt, JsonlAppender, read_jsonl

from . import verifier_class
from .base import Candidate, VerifyError
from .gap import gap_report
from .generated import GeneratedVerifier
from .hacks import static_flags
from .judging import runtime_flags
from .probe import docstring_pairs, example_inputs, hardcoded_flags, probe_flags, probe_job, assert_pairs
from .record import GAP_REPORT_FILE, GENERATED_TESTS_FILE, TRAJECTORIES_FILE, VERDICTS_FILE, Verdict
from .testgen import GeneratedTests, generate_tests

CONFIG_FILE = "config.json"


@dataclass
class VerifyConfig:
    verifiers: tuple[str, ...] = ("generated", "heldout")
    """Which verifiers to run (registry names)."""
    model: str | None = None
    """Model spec that writes the generated tests; None: the run's own model (config.json)."""
    n_tests: int = 10
    """Most sanitized generated tests kept per task."""
    samples: int = 4
    """Replies sampled per task when generating tests."""
    concurrency: int = 32
    """Most replies decoded together when generating tests (tasks per model call: this // samples)."""
    temperature: float = 0.8
    """Sampling temperature for test generation (several different replies are the point)."""
    backend: str = "auto"
    """Sandbox backend of the test engine."""
    workers: int = 2
    """Sandboxes running jobs in parallel."""
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Seconds per test job."""
    cache_dir: Path | None = None
    """Content-keyed result cache of the test engine (None: the one `codeagent eval` uses)."""
    chunk_tasks: int = 16
    """Tasks verified (and written) together; a kill loses at most one chunk's work."""
    progress: bool = True


@dataclass
class VerifyResult:
    run_dir: Path
    n_attempts: int
    n_verified: int
    """Attempts verified by this call (the rest were already in verdicts.jsonl)."""
    gap_report: dict | None
    timings: dict = field(default_factory=dict)


def verify_run(run_dir: Path, verifiers: Sequence[str] = ("generated", "heldout"), cfg: VerifyConfig | None = None,
               *, model: Model | None = None, engine: TestEngine | None = None) -> VerifyResult:
    """Verify every attempt of `run_dir`. `model`/`engine`: use these instead of loading/starting one."""
    start = time.monotonic()
    run_dir = Path(run_dir)
    cfg = cfg or VerifyConfig()
    verifiers = tuple(dict.fromkeys(verifiers))
    if not verifiers:
        raise VerifyError("no verifiers given; use --verifiers generated,heldout (or one of them)")
    for name in verifiers:
        verifier_class(name)  # unknown names fail here, with the known ones
    config = read_run_config(run_dir)
    attempts = read_attempts(run_dir)
    from codeagent.tasks import load_tasks, tasks_by_id
    tasks = tasks_by_id(load_tasks(config["task_set"], config.get("split")))
    unknown = sorted({a.task_id for a in attempts} - set(tasks))
    if unknown:
        raise VerifyError(f"{run_dir / TRAJECTORIES_FILE}: {len(unknown)} task id(s) not in task set "
                          f"{config['task_set']!r} (split {config.get('split')!r}), e.g. {unknown[:3]}")
    done = read_verdicts(run_dir)
    by_task: dict[str, list[Attempt]] = {}
    for a in attempts:
        by_task.setdefault(a.task_id, []).append(a)
    todo = [t for t, items in by_task.items() if not all(_complete(done.get(a.attempt_id), verifiers) for a in items)]

    generated = None
    if "generated" in verifiers and todo:
        store = _ensure_tests(run_dir, [tasks[t] for t in todo], cfg, model, cfg.model or config.get("model"))
        generated = GeneratedVerifier(store, cfg.timeout_s)
    heldout = verifier_class("heldout")(cfg.timeout_s) if "heldout" in verifiers else None

    n_todo = sum(len(by_task[t]) for t in todo)
    own_engine = engine is None and bool(todo)
    if own_engine:
        from codeagent.evaluation.stage import default_cache_dir
        engine = TestEngine(cfg.backend, cfg.workers, cache_dir=cfg.cache_dir or default_cache_dir())
    bar = _Bar("verify", n_todo, cfg.progress)
    try:
        with JsonlAppender(run_dir / VERDICTS_FILE) as out:
            for i in range(0, len(todo), cfg.chunk_tasks):
                chunk = [(tasks[t], by_task[t]) for t in todo[i:i + cfg.chunk_tasks]]
                for verdict in _verify_chunk(chunk, engine, generated, heldout, cfg, bar):
                    out.append(verdict.to_dict())
                    done[verdict.attempt_id] = verdict
    finally:
        bar.close()
        if own_engine:
            engine.close()

    verdicts = [done[a.attempt_id] for a in attempts if a.attempt_id in done]
    report = None
    if verdicts and any(v.generated for v in verdicts) and any(v.heldout for v in verdicts):
        run_info = {k: config.get(k) for k in ("run_id", "task_set", "split", "model", "agent")}
        run_info["test_writer"] = cfg.model or config.get("model")
        report = gap_report(verdicts, {a.attempt_id: a.sample_index for a in attempts}, run=run_info)
        (run_dir / GAP_REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return VerifyResult(run_dir=run_dir, n_attempts=len(attempts), n_verified=n_todo, gap_report=report,
                        timings={"wall_s": round(time.monotonic() - start, 3)})


# -- the work ----------------------------------------------------------------------------------
def make_candidate(task, attempt: Attempt) -> Candidate:
    """The attempt's patch applied to a fresh copy of the task repo, with its static hack flags."""
    files, error = None, None
    if not attempt.patch.strip():
        error = "empty patch"
    else:
        try:
            files = apply_patch(dict(task.repo_files), attempt.patch)
        except PatchError as e:
            error = str(e)
    c = Candidate(attempt_id=attempt.attempt_id, task_id=attempt.task_id, sample_index=attempt.sample_index,
                  patch=attempt.patch, files=files, patch_error=error)
    c.hack_flags = static_flags(task, attempt.patch, task.repo_files, files)
    return c


def _verify_chunk(chunk, engine, generated: GeneratedVerifier | None, heldout, cfg: VerifyConfig, bar):
    cands = {task.id: [make_candidate(task, a) for a in items] for task, items in chunk}

    # One engine call for the whole chunk, so its slowest job (a timeout) is waited for once.
    # Held-out tests are never in a generated or probe job: each job carries one kind of test
    # file, and each verdict below reads only its own kind's reports.
    jobs = []
    for task, _ in chunk:
        if generated:
            jobs += generated.jobs(task, cands[task.id])
        jobs += _probe_jobs(task, cands[task.id], generated, cfg.timeout_s)
        if heldout:
            jobs += heldout.jobs(task, cands[task.id])
    reports = {r.key: r for r in engine.run(jobs)} if jobs else {}
    parts: dict[str, dict] = {}
    for task, _ in chunk:
        for c in cands[task.id]:
            c.hack_flags += probe_flags(reports.get(_probe_key(c)))
            c.hack_flags += runtime_flags(*(reports.get(k) for k in _report_keys(c, generated, heldout)))
            pairs = []
            if task.entry_point:
                pairs += docstring_pairs(task.problem_statement, task.entry_point)
                if generated and task.id in generated.tests:
                    passed = generated.passed_tests(c, reports)
                    pairs += [p for src in generated.tests[task.id].tests if _test_name(src) in passed
                              for p in assert_pairs(src, task.entry_point)]
            c.hack_flags += hardcoded_flags(task.repo_files, c.files, pairs)
        if generated:
            for aid, part in generated.judge(task, cands[task.id], reports).items():
                parts.setdefault(aid, {})["generated"] = part
        for c in cands[task.id]:
            r = reports.get(GeneratedVerifier.key(c))
            if r is not None:
                parts.setdefault(c.attempt_id, {}).setdefault("timings", {})["generated_s"] = round(r.duration, 3)

    if heldout:
        for task, _ in chunk:
            for aid, part in heldout.judge(task, cands[task.id], reports).items():
                parts.setdefault(aid, {})["heldout"] = part
            for c in cands[task.id]:
                r = reports.get(heldout.key(c))
                if r is not None:
                    parts.setdefault(c.attempt_id, {}).setdefault("timings", {})["heldout_s"] = round(r.duration, 3)

    for task, _ in chunk:
        for c in cands[task.id]:
            p = parts.get(c.attempt_id, {})
            timings = p.get("timings", {})
            if c.patch_error:
                timings["patch_error"] = c.patch_error
            yield Verdict(attempt_id=c.attempt_id, task_id=c.task_id, heldout=p.get("heldout"),
                          generated=p.get("generated"), hack_flags=list(c.hack_flags), timings=timings)
            bar.advance()


def _report_keys(c: Candidate, generated, heldout) -> list[str]:
    return [_probe_key(c)] + ([GeneratedVerifier.key(c)] if generated else []) + ([heldout.key(c)] if heldout else [])


def _probe_key(c: Candidate) -> str:
    return f"probe::{c.attempt_id}"


def _test_name(src: str) -> str:
    return src.split("(", 1)[0].removeprefix("def ").strip()


def _probe_jobs(task, candidates, generated: GeneratedVerifier | None, timeout_s: float):
    if not task.entry_point:
        return []
    inputs = example_inputs(task.problem_statement, task.entry_point)
    if generated and task.id in generated.tests:
        inputs += [args for src in generated.tests[task.id].tests for args, _ in assert_pairs(src, task.entry_point)]
    out = []
    for c in candidates:
        if c.files is not None:
            job = probe_job(task, c.files, _probe_key(c), inputs, timeout_s)
            if job:
                out.append(job)
    return out


def _ensure_tests(run_dir: Path, tasks: list, cfg: VerifyConfig, model: Model | None,
                  spec: str | None) -> dict[str, GeneratedTests]:
    """Generated tests of `tasks`: read from generated_tests.jsonl, the missing ones written by the model."""
    path = run_dir / GENERATED_TESTS_FILE
    store: dict[str, GeneratedTests] = {}
    for lineno, d in _numbered(path):
        try:
            g = GeneratedTests.from_dict(d)
        except (KeyError, TypeError) as e:
            raise VerifyError(f"{path}:{lineno}: not a generated-tests record ({e}); delete the line to regenerate")
        store[g.task_id] = g
    missing = [t for t in tasks if t.id not in store]
    if not missing:
        return store
    if model is None:
        if not spec:
            raise VerifyError(f"{run_dir / CONFIG_FILE} names no model; pass --model SPEC to write the generated tests")
        from codeagent.models import load_model
        model = load_model(spec)
    batch = max(1, cfg.concurrency // cfg.samples)  # tasks per call: batched, yet resumable
    widen_batch(model, batch * cfg.samples)  # decode one call's replies together
    bar = _Bar("writing tests", len(missing), cfg.progress)
    try:
        with JsonlAppender(path) as out:
            for i in range(0, len(missing), batch):
                part = missing[i:i + batch]
                able = [t for t in part if t.entry_point]
                made = {g.task_id: g for g in generate_tests(model, able, samples=cfg.samples, n_tests=cfg.n_tests,
                                                               temperature=cfg.temperature)} if able else {}
                for t in part:
                    g = made.get(t.id) or GeneratedTests(t.id, model.spec, [], [], dropped=[
                        {"source": "", "reason": "task has no entry point: tests cannot be generated"}])
                    out.append(g.to_dict())
                    store[t.id] = g
                    bar.advance()
    finally:
        bar.close()
    return store


# -- reading a run dir -------------------------------------------------------------------------
def _numbered(path: Path):
    """(line number, record) of a JSONL file; a torn last line is skipped, other bad lines fail."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.endswith("\n"):
                return  # torn tail of a killed writer
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except ValueError as e:
                raise VerifyError(f"{path}:{lineno}: not valid JSON ({e})") from None


def read_run_config(run_dir: Path) -> dict:
    if not run_dir.is_dir():
        raise VerifyError(f"{run_dir}: run dir not found; pass the --out folder of `codeagent run`")
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise VerifyError(f"{run_dir}: not a run dir (no {CONFIG_FILE}); pass the --out folder of `codeagent run`")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise VerifyError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(config, dict) or not isinstance(config.get("task_set"), str):
        raise VerifyError(f"{path}: missing string field 'task_set'; was it written by `codeagent run`?")
    return config


def read_attempts(run_dir: Path) -> list[Attempt]:
    path = run_dir / TRAJECTORIES_FILE
    latest: dict[str, Attempt] = {}
    for lineno, d in _numbered(path):
        try:
            a = Attempt.from_dict(d)
        except (TypeError, KeyError, AttributeError) as e:
            raise VerifyError(f"{path}:{lineno}: not an attempt record ({e})") from None
        if not isinstance(a.patch, str):
            raise VerifyError(f"{path}:{lineno}: field 'patch' must be a string")
        latest[a.attempt_id] = a  # a rerun's line for the same attempt wins
    if not latest:
        raise VerifyError(f"{path}: no attempts; run `codeagent run ... --out {run_dir}` first")
    return list(latest.values())


def read_verdicts(run_dir: Path) -> dict[str, Verdict]:
    path = run_dir / VERDICTS_FILE
    out = {}
    for lineno, d in _numbered(path):
        try:
            v = Verdict.from_dict(d)
        except (TypeError, KeyError) as e:
            raise VerifyError(f"{path}:{lineno}: not a verdict record ({e}); delete the line to re-verify") from None
        out[v.attempt_id] = v
    return out


def _complete(v: Verdict | None, verifiers: Sequence[str]) -> bool:
    return v is not None and all(getattr(v, name, None) is not None for name in verifiers)


class _Bar:
    """A rich progress bar (or nothing when disabled)."""

    def __init__(self, label: str, total: int, enabled: bool):
        self._p = None
        if enabled and total:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self._p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                               TimeElapsedColumn())
            self._p.start()
            self._t = self._p.add_task(label, total=total)

    def advance(self) -> None:
        if self._p:
            self._p.advance(self._t)

    def close(self) -> None:
        if self._p:
            self._p.stop()
