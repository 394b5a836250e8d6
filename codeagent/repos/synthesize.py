"""`codeagent tasks synthesize`: bugs made from real libraries, validated as SWE-smith does.

Per source: run the whole suite on the pristine repo twice in a sandbox (tests that do not pass
both times are never used); make candidates with the procedural strategies and, given a model,
the self-play one (`selfplay`: the model writes the bug); for each, whatever its strategy, write
the bug into a warm sandbox, run the pristine-passing tests that can see the function
(`coverage.tests_seeing`), and keep it only if at least one goes from pass to fail (FAIL_TO_PASS)
and at least one still passes (PASS_TO_PASS). Duplicates (same mutated code, from any strategy)
are made once; a candidate whose run times out is dropped. Every verdict is appended to a journal
in `OUT/.synth/`, so a killed build resumes where it stopped; the set files are written at the end.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from codeagent.errors import UserError, unknown_name
from codeagent.progress import ProgressBar
from codeagent.sandbox import open_sandbox, resolve_backend

from . import coverage
from .grade import REPO_LIMITS, run_pytest
from .mutate import STRATEGIES, Candidate, candidates
from .selfplay import SELF_PLAY, ReplyJournal, SelfPlayConfig, pick_targets, self_play_candidates
from .sources import Pristine, RepoSource, SourceError, load_source, pristine
from .statements import failing_test_names, level_for, stable_message, statement

PRISTINE_RUNS = 2
MIN_TIMEOUT_S = 20.0
TIMEOUT_FACTOR = 10.0
"""A candidate's run may take this many times the pristine run of the same tests (endless loops
are the usual cause past that; such candidates are dropped, not kept as slow tasks)."""


@dataclass
class Outcome:
    """The validation verdict of one candidate (one journal line)."""

    id: str
    kept: bool
    reason: str
    """kept | no-covering-test | no-fail-to-pass | no-pass-to-pass | timeout | infra: …"""
    fail_to_pass: list[str] = field(default_factory=list)
    pass_to_pass: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    duration: float = 0.0


@dataclass
class SourceBaseline:
    """What the pristine suite says, and the static map from functions to tests."""

    passing: list[str]
    durations: float
    tests: dict
    calls: dict


class Validator:
    """Validates candidates of one source in `workers` warm sandboxes holding the pristine repo."""

    def __init__(self, pr: Pristine, backend: str = "auto", workers: int = 2):
        self.pr = pr
        self.backend = resolve_backend(backend, quiet=True)
        self.workers = max(1, workers)
        self.repo = {**pr.code, **pr.tests}
        self.test_paths = sorted(p for p in pr.tests if p.endswith(".py") and "/__init__" not in f"/{p}")
        self._boxes: queue.Queue = queue.Queue()
        self._all: list = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for box in self._all:
            try:
                box.close()
            except Exception:  # noqa: BLE001 — a dead container is gone anyway
                pass

    def _box(self):
        try:
            return self._boxes.get_nowait()
        except queue.Empty:
            box = open_sandbox(self.backend, self.repo, REPO_LIMITS)
            self._all.append(box)
            return box

    def baseline(self) -> SourceBaseline:
        """Tests that pass on the pristine repo in every one of PRISTINE_RUNS runs."""
        box = self._box()
        try:
            passing, total = None, 0.0
            for _ in range(PRISTINE_RUNS):
                run = run_pytest(box, self.test_paths, None, self.pr.source.timeout_s)
                if run.error or run.timed_out or not run.finished:
                    raise SourceError(f"{self.pr.source.path}: the pristine test suite of {self.pr.source.pin} did not "
                                      f"finish in the sandbox ({run.error or 'timed out' if run.timed_out else 'died'});"
                                      f" raise timeout_s or leave the offending test files out of test_files. "
                                      f"Output: {run.output_tail[-300:]}")
                if run.collect_errors:
                    raise SourceError(f"{self.pr.source.path}: test files fail to import on the pristine repo: "
                                      f"{dict(list(run.collect_errors.items())[:3])}; leave them out of test_files")
                ok = {n for n, o in run.outcomes.items() if o == "passed"}
                passing = ok if passing is None else passing & ok
                total += run.duration
        finally:
            self._boxes.put(box)
        if not passing:
            raise SourceError(f"{self.pr.source.path}: no test passes on the pristine repo of {self.pr.source.pin}")
        return SourceBaseline(sorted(passing), total / PRISTINE_RUNS, coverage.names_in_tests(self.pr.tests),
                              coverage.callers(self.pr.code))

    def validate(self, cand: Candidate, base: SourceBaseline) -> Outcome:
        selected = coverage.tests_seeing(cand.function, base.passing, base.tests, base.calls)
        if not selected:
            return Outcome(cand.id, False, "no-covering-test")
        timeout = max(MIN_TIMEOUT_S, TIMEOUT_FACTOR * base.durations * len(selected) / len(base.passing))
        box = self._box()
        try:
            box.write_files({cand.file: cand.apply(self.pr.code)[cand.file]})
            try:
                files = sorted({coverage.node_key(n)[0] for n in selected})
                run = run_pytest(box, files, selected, timeout)
            finally:
                box.write_files({cand.file: self.pr.code[cand.file]})
        except Exception as e:  # noqa: BLE001 — a sandbox that broke is retired, the candidate is infra
            self._all.remove(box)
            try:
                box.close()
            except Exception:  # noqa: BLE001
                pass
            return Outcome(cand.id, False, f"infra: {type(e).__name__}: {str(e)[:200]}")
        self._boxes.put(box)
        if run.error:
            return Outcome(cand.id, False, f"infra: {run.error[:200]}", duration=run.duration)
        if run.timed_out or not run.finished:
            return Outcome(cand.id, False, "timeout" if run.timed_out else "suite-died", duration=run.duration)
        f2p = [n for n in selected if run.outcome(n) != "passed"]
        p2p = [n for n in selected if run.outcome(n) == "passed"]
        reason = "kept" if f2p and p2p else "no-fail-to-pass" if not f2p else "no-pass-to-pass"
        return Outcome(cand.id, reason == "kept", reason, f2p, p2p,
                       [run.messages[n] for n in f2p if run.messages.get(n)], run.duration)


def order_candidates(cands: list[Candidate], seed: int, limit: int | None) -> list[Candidate]:
    """Shuffled with `seed`, strategies interleaved, deduplicated by mutated code (two strategies
    can make the same bug: the first in this order owns it), cut to `limit`."""
    unique = list({c.id: c for c in cands}.values())
    by_strategy: dict[str, list[Candidate]] = {}
    for c in unique:
        by_strategy.setdefault(c.strategy, []).append(c)
    for name, group in by_strategy.items():
        random.Random(f"{seed}:{name}").shuffle(group)
    out, seen = [], set()
    for i in range(max((len(g) for g in by_strategy.values()), default=0)):
        for c in (g[i] for g in by_strategy.values() if i < len(g)):
            if (c.file, c.after) not in seen:
                seen.add((c.file, c.after))
                out.append(c)
    return out[:limit] if limit else out


class Journal:
    """Append-only JSON lines of Outcomes; a torn last line (a kill mid-write) is ignored."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, Outcome] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    o = Outcome(**json.loads(line))
                except (ValueError, TypeError):
                    continue
                self.done[o.id] = o
        self._lock = threading.Lock()

    def add(self, o: Outcome) -> None:
        with self._lock:
            self.done[o.id] = o
            with open(self.path, "a") as f:
                f.write(json.dumps(asdict(o)) + "\n")


@dataclass
class SourceStats:
    source: str
    candidates: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    replies: dict[str, int] = field(default_factory=dict)
    """Self-play: the model's replies before validation (`selfplay.SelfPlayResult.replies`)."""
    baseline_tests: int = 0
    seconds: float = 0.0


def synthesize_source(source: RepoSource, out: Path, strategies: list[str], seed: int, max_candidates: int | None,
                      max_tasks: int | None, backend: str, workers: int, progress: bool = True, model=None,
                      self_play: SelfPlayConfig = SelfPlayConfig()):
    """Validate candidates of one source; returns (kept records, stats). `model` (a loaded Model)
    is asked for the self-play candidates when `strategies` has SELF_PLAY."""
    t0 = time.monotonic()
    pr = pristine(source)
    stats = SourceStats(source.name)
    journal = Journal(out / ".synth" / f"{source.name}.jsonl")
    with Validator(pr, backend, workers) as v:
        base = v.baseline()  # first: a suite that fails on the pristine repo costs no model time
        stats.baseline_tests = len(base.passing)
        made = candidates(source.name, pr.code, [s for s in strategies if s != SELF_PLAY], seed)
        if SELF_PLAY in strategies:
            made += _self_play(source, pr, out, model, seed, self_play, max_candidates, stats, progress)
        cands = order_candidates(made, seed, max_candidates)
        # Infra failures are the harness's, not the candidate's: a resumed build tries them again.
        todo = [c for c in cands if c.id not in journal.done or journal.done[c.id].reason.startswith("infra")]
        kept_before = sum(journal.done[c.id].kept for c in cands if c.id in journal.done)
        stop = threading.Event()
        if max_tasks and kept_before >= max_tasks:
            stop.set()  # resumed with the cap already reached: nothing more to validate
        bar = _Bar(f"{source.name}", len(cands), len(cands) - len(todo)) if progress else None
        kept_count = [kept_before]
        lock = threading.Lock()

        def work(c: Candidate) -> None:
            if stop.is_set():
                return
            o = v.validate(c, base)
            if o.reason.startswith("infra"):
                o = v.validate(c, base)  # once more, in a fresh sandbox
            journal.add(o)
            with lock:
                kept_count[0] += o.kept
                if max_tasks and kept_count[0] >= max_tasks:
                    stop.set()
            if bar:
                bar.advance()

        try:
            with ThreadPoolExecutor(v.workers) as pool:
                list(pool.map(work, todo))
        finally:
            if bar:
                bar.close()
    records = []
    for c in cands:
        o = journal.done.get(c.id)
        if o is None:
            continue
        stats.candidates[c.strategy] = stats.candidates.get(c.strategy, 0) + 1
        stats.reasons[o.reason.split(":")[0]] = stats.reasons.get(o.reason.split(":")[0], 0) + 1
        if o.kept and (not max_tasks or len(records) < max_tasks):
            stats.kept[c.strategy] = stats.kept.get(c.strategy, 0) + 1
            level = level_for(c.id)
            messages = [stable_message(m) for m in o.messages]
            records.append({
                "id": c.id, "source": source.name, "file": c.file, "function": c.function,
                "strategy": c.strategy, "lineno": c.lineno, "before": c.before, "after": c.after,
                "fail_to_pass": o.fail_to_pass, "pass_to_pass": o.pass_to_pass, "messages": messages[:5],
                "level": level,
                "problem_statement": statement(level, source.name, c.file, c.function, messages, pr.tests,
                                               hide=failing_test_names(o.fail_to_pass)),
                **({"model": model.spec} if c.strategy == SELF_PLAY else {}),
            })
    stats.seconds = round(time.monotonic() - t0, 1)
    return records, stats


def _self_play(source: RepoSource, pr: Pristine, out: Path, model, seed: int, config: SelfPlayConfig,
               max_candidates: int | None, stats: SourceStats, progress: bool) -> list[Candidate]:
    if config.max_functions is None and max_candidates:
        config = replace(config, max_functions=max_candidates)  # no more functions asked than can be validated
    journal = ReplyJournal(out / ".synth" / f"{source.name}.{SELF_PLAY}.jsonl")
    total = len(pick_targets(pr.code, seed, config.max_functions))
    with ProgressBar(f"self-play {source.name} ({model.spec})", total, enabled=progress) as bar:
        result = self_play_candidates(source.name, pr.code, model, seed, journal, config, on_batch=bar.advance)
    stats.replies = result.replies
    return result.candidates


class _Bar:
    def __init__(self, label: str, total: int, done: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
        self.p = Progress(TextColumn(f"[bold]validate {label}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn())
        self.p.start()
        self.t = self.p.add_task(label, total=total, completed=done)

    def advance(self):
        self.p.advance(self.t)

    def close(self):
        self.p.stop()


def synthesize(sources: list[str], out: Path, strategies: list[str] | None = None, seed: int = 0,
               max_candidates: int | None = None, max_tasks: int | None = None, heldout_library: str | None = None,
               backend: str = "auto", workers: int = 2, progress: bool = True, model: str | None = None,
               self_play: SelfPlayConfig = SelfPlayConfig()) -> list[SourceStats]:
    """Build (or resume) the task set at `out` from `sources`; returns per-source stats.

    A source may carry its own cap on kept tasks as `NAME:MAX` (else `max_tasks`). The set files
    are rewritten after each source, so a build stopped part-way leaves a usable set.
    model: the spec of the self-play model; without `strategies` it means self-play alone.
    """
    from .taskset import write_set
    strategies = check_strategies(strategies, model)
    plan = []
    for spec in sources:
        name, _, cap = spec.partition(":")
        if cap and not cap.isdigit():
            raise SourceError(f"--source {spec!r}: write NAME or NAME:MAX with MAX a number of tasks")
        plan.append((load_source(name), int(cap) if cap else max_tasks))
    command = " ".join(["codeagent tasks synthesize", *(f"--source {spec}" for spec in sources), f"--seed {seed}",
                        *([f"--strategies {','.join(strategies)}"] if strategies != list(STRATEGIES) else []),
                        *([f"--model {model}"] if model else []),
                        *([f"--temperature {self_play.temperature}"]
                          if model and self_play.temperature != SelfPlayConfig.temperature else []),
                        *([f"--max-candidates {max_candidates}"] if max_candidates else []),
                        *([f"--max {max_tasks}"] if max_tasks else []),
                        *([f"--heldout-library {heldout_library}"] if heldout_library else []), f"--out {out}"])
    all_records, all_stats, done = {}, [], []
    loaded = None
    if model:
        from codeagent.models import load_model
        loaded = load_model(model, log_dir=out / ".synth")
    try:
        for src, cap in plan:
            records, stats = synthesize_source(src, out, strategies, seed, max_candidates, cap, backend,
                                               workers, progress, loaded, self_play)
            all_records[src.name] = records
            all_stats.append(stats)
            done.append(src)
            write_set(out, done, all_records, seed=seed, strategies=strategies, heldout_library=heldout_library,
                      stats=all_stats, command=command, model=model)
    finally:
        if loaded is not None and hasattr(loaded, "close"):
            loaded.close()
    return all_stats


def check_strategies(strategies: list[str] | None, model: str | None) -> list[str]:
    """The strategies to run: every name known, and a model exactly when self-play is asked for."""
    known = [*STRATEGIES, SELF_PLAY]
    if strategies is None:
        return [SELF_PLAY] if model else list(STRATEGIES)
    for name in strategies:
        if name not in known:
            raise unknown_name("strategy", name, known)
    if SELF_PLAY in strategies and not model:
        raise UserError(f"the {SELF_PLAY} strategy needs a model to write the bugs: add --model SPEC "
                        "(e.g. --model smollm2-135m)")
    if model and SELF_PLAY not in strategies:
        raise UserError(f"--model is only used by the {SELF_PLAY} strategy; add {SELF_PLAY} to --strategies "
                        "or leave --model out")
    return list(strategies)
