"""The self-improvement loop (expert iteration / ReST-EM), resumable per stage.

for i in 0..K-1:
    run    model_i on the train split                       -> iter_i/run
    verify generated tests (+ held-out, for measurement)    -> verdicts in iter_i/run
    export attempts accepted by the chosen verifier, all iterations so far -> iter_i/data
    train  model_{i+1} from the base (or model_i)           -> iter_i/model
    eval   model_{i+1} on the eval split, held-out tests    -> iter_i/eval_greedy, iter_i/eval_sampled
Iteration 0 first evaluates the base model (base/eval_*).

Each finished stage leaves `<stage>.done.json` with its figures; a rerun skips finished stages
and the unfinished one resumes (runs, verification and training are themselves resumable).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console

from codeagent.errors import UserError
from codeagent.evaluation.passk import mean_pass_at_k
from codeagent.evaluation.patching import PatchError, apply_patch
from codeagent.tasks import load_tasks, tasks_by_id
from codeagent.trajectory import read_jsonl

from .config import ImproveConfig
from .diversity import diversity
from .engine import Serving
from .layout import CONFIG_FILE, GREEDY_RUN, METRICS_FILE, StageDir, eval_folder
from .paired import solved_counts

console = Console(stderr=True)


def improve(cfg: ImproveConfig, out: Path) -> list[dict]:
    """Run (or resume) the loop into `out`; returns the per-iteration metrics (also in metrics.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(cfg, out)
    train_split, eval_split = "train", "test"
    load_tasks(cfg.task_set, train_split)  # clear errors before any work
    load_tasks(cfg.eval_task_set, eval_split)

    with Serving(cfg.engine, out) as serving:
        return _iterate(cfg, out, serving, train_split, eval_split)


def _iterate(cfg: ImproveConfig, out: Path, serving: Serving, train_split: str, eval_split: str) -> list[dict]:
    metrics: list[dict] = []
    base_eval = _evaluate(cfg, serving.use(cfg.model), eval_folder(out, 0), eval_split)
    metrics.append({"iteration": 0, "model": cfg.model, "eval": base_eval, "wall_s": {"eval": base_eval["wall_s"]}})
    _write_metrics(out, metrics)
    model_i = cfg.model
    run_dirs: list[Path] = []
    for i in range(cfg.iterations):
        it = out / f"iter_{i}"
        it.mkdir(exist_ok=True)
        console.rule(f"[bold]iteration {i}: {model_i}")
        row: dict = {"iteration": i + 1, "trained_from": model_i, "wall_s": {}}

        run_dir = it / "run"
        row["train"] = _stage(StageDir(run_dir), lambda: _run(cfg, serving.use(model_i), run_dir, train_split,
                                                             cfg.samples, cfg.temperature, cfg.train_tasks), row, "run")
        row["verifier"] = _stage(StageDir(it / "verify"), lambda: _verify(cfg, run_dir, serving.use(model_i)),
                                 row, "verify")
        run_dirs.append(run_dir)
        row["diversity"] = _diversity(cfg, run_dir, train_split)

        data_dir = it / "data"
        sources = [run_dir] if cfg.continue_from_previous else list(run_dirs)
        row["data"] = _stage(StageDir(data_dir), lambda: _export(cfg, sources, data_dir, i, eval_split), row, "export")

        model_dir = it / "model"
        base_for_training = model_i if cfg.continue_from_previous else cfg.model
        serving.release()  # training gets the machine to itself
        trained = _stage(StageDir(model_dir), lambda: _train(cfg, data_dir, base_for_training, model_dir, row["data"]),
                         row, "train")
        row["training"] = trained
        next_model = trained["model"] or model_i
        row["model"] = next_model
        eval_dir = eval_folder(out, i + 1)
        row["eval"] = _stage(StageDir(eval_dir), lambda: _evaluate(cfg, serving.use(next_model), eval_dir, eval_split),
                             row, "eval")
        metrics.append(row)
        _write_metrics(out, metrics)
        model_i = next_model

    from .report import write_report
    write_report(cfg, out, metrics)
    return metrics


def _stage(stage: StageDir, work, row: dict, name: str) -> dict:
    done = stage.done()
    if done is not None:
        console.print(f"[dim]{name}: done earlier ({stage.marker.name})")
        row["wall_s"][name] = done.get("wall_s", 0.0)
        return done
    console.print(f"[bold cyan]{name}[/] …")
    started = time.monotonic()
    figures = work()
    figures["wall_s"] = round(time.monotonic() - started, 1)
    row["wall_s"][name] = figures["wall_s"]
    _say(name, figures)
    return stage.finish(figures)


def _say(name: str, figures: dict) -> None:
    """Log a stage's scalar figures as soon as it ends: metrics.json gains a row only when the
    whole iteration ends, and a run cut short should still leave its numbers in the log."""
    scalars = {k: v for k, v in figures.items() if isinstance(v, (int, float, str)) or v is None}
    console.print(f"[dim]{name}: " + "  ".join(f"{k}={v}" for k, v in scalars.items()))


# -- stages ------------------------------------------------------------------------------------
def _run(cfg: ImproveConfig, model: str, out: Path, split: str, samples: int, temperature: float,
         max_tasks: int | None) -> dict:
    from codeagent.run import RunConfig, run_agent
    summary = run_agent(RunConfig(task_set=cfg.task_set if split == "train" else cfg.eval_task_set, split=split,
                                  model=model, agent=cfg.agent, samples=samples, temperature=temperature,
                                  max_tokens=cfg.max_tokens, max_tasks=max_tasks, concurrency=cfg.concurrency,
                                  backend=cfg.backend, seed=cfg.seed), out)
    return {"n_attempts": summary.n_done, "completion_tokens": summary.completion_tokens,
            "exit_statuses": summary.exit_statuses}


def _verify(cfg: ImproveConfig, run_dir: Path, model: str) -> dict:
    """Generated tests (the model's own) + held-out (ground truth, used only for measurement
    unless --verifier heldout)."""
    from codeagent.verify.stage import VerifyConfig, verify_run
    result = verify_run(run_dir, ("generated", "heldout"),
                        VerifyConfig(model=model, samples=cfg.gen_tests_samples, concurrency=cfg.concurrency,
                                     backend=cfg.backend, workers=cfg.workers))
    gap = result.gap_report or {}
    gen = gap.get("verifiers", {}).get("generated", {})
    verdicts = [json.loads(l) for l in (run_dir / "verdicts.jsonl").read_text().splitlines() if l.strip()]
    by_task: dict[str, list[bool]] = {}
    for v in verdicts:
        by_task.setdefault(v["task_id"], []).append(bool(v["heldout"] and v["heldout"]["passed"] and not v["hack_flags"]))
    return {
        "train_solve_rate": _ratio(sum(any(x) for x in by_task.values()), len(by_task)),
        "train_attempt_pass_rate": _ratio(sum(sum(x) for x in by_task.values()), sum(len(x) for x in by_task.values())),
        "generated_precision": gen.get("precision"), "generated_recall": gen.get("recall"),
        "generated_fpr": gen.get("false_positive_rate"), "generated_accepted": gen.get("n_accepted"),
        "hack_flagged": gap.get("n_hack_flagged", 0),
    }


def _export(cfg: ImproveConfig, run_dirs: list[Path], out: Path, iteration: int, eval_split: str) -> dict:
    from codeagent.export.stage import export_runs
    summary = export_runs(run_dirs, cfg.verifier, "hf", out, max_per_task=cfg.max_per_task,
                          eval_sets=[f"{cfg.eval_task_set}:{eval_split}"], iteration=iteration, progress=False)
    return {"n_examples": summary.n_examples, "counts": summary.counts, "dropped": summary.dropped_by_reason}


def _train(cfg: ImproveConfig, data: Path, base: str, out: Path, exported: dict) -> dict:
    if exported["n_examples"] == 0:
        console.print("[yellow]no accepted examples: the model is carried over untrained")
        return {"model": None, "skipped": "no training examples"}
    from codeagent.train.config import TrainConfig
    from codeagent.train.sft import train_sft
    path = train_sft(TrainConfig(data=data, out=out, base=base, lora=cfg.lora, lr=cfg.lr, epochs=cfg.epochs,
                                 max_steps=cfg.max_steps, batch_size=cfg.batch_size, max_length=cfg.max_length,
                                 seed=cfg.seed))
    log = path / "training_log.json"
    losses = [loss for _, loss in json.loads(log.read_text()).get("loss_curve", [])] if log.is_file() else []
    return {"model": f"hf:{path}", "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None, "n_examples": exported["n_examples"]}


def _evaluate(cfg: ImproveConfig, model: str, folder: Path, split: str) -> dict:
    """Greedy pass@1 and (if eval_samples) sampled pass@k on the eval split, held-out tests."""
    greedy = StageDir(folder / GREEDY_RUN)
    figures: dict = {}
    g = greedy.done() or greedy.finish(_eval_run(cfg, model, greedy.path, split, 1, 0.0))
    _say("eval greedy", g)
    # The sub-runs' own times, so a resumed loop reports the time the work took, not ~0 s of rereading.
    wall = g.get("wall_s", 0.0)
    figures["pass@1"] = g["pass@1"]
    figures["greedy_solved"] = g["n_solved"]
    figures["n_tasks"] = g["n_tasks"]
    if cfg.eval_samples > 0:
        sampled = StageDir(folder / "eval_sampled")
        s = sampled.done() or sampled.finish(_eval_run(cfg, model, sampled.path, split, cfg.eval_samples,
                                                       cfg.temperature))
        figures[f"pass@{cfg.eval_samples}"] = s[f"pass@{cfg.eval_samples}"]
        figures["sampled_pass@1"] = s["pass@1"]
        wall += s.get("wall_s", 0.0)
    figures["wall_s"] = round(wall, 1)
    return figures


def _eval_run(cfg: ImproveConfig, model: str, out: Path, split: str, samples: int, temperature: float) -> dict:
    from codeagent.run import RunConfig, run_agent
    from codeagent.verify.stage import VerifyConfig, verify_run
    started = time.monotonic()
    run_agent(RunConfig(task_set=cfg.eval_task_set, split=split, model=model, agent=cfg.agent, samples=samples,
                        temperature=temperature, max_tokens=cfg.max_tokens, max_tasks=cfg.eval_tasks,
                        concurrency=cfg.concurrency, backend=cfg.backend, seed=cfg.seed), out)
    verify_run(out, ("heldout",), VerifyConfig(backend=cfg.backend, workers=cfg.workers))
    counts = solved_counts(out / "verdicts.jsonl")
    figures = {"n_tasks": len(counts), "n_solved": sum(c > 0 for _, c in counts.values()),
               "pass@1": _round(mean_pass_at_k(counts, 1))}
    if samples > 1:
        figures[f"pass@{samples}"] = _round(mean_pass_at_k(counts, samples))
    figures["wall_s"] = round(time.monotonic() - started, 1)
    return figures


def _diversity(cfg: ImproveConfig, run_dir: Path, split: str) -> dict:
    tasks = tasks_by_id(load_tasks(cfg.task_set, split))
    sols: dict[str, list[str]] = {}
    for a in read_jsonl(run_dir / "trajectories.jsonl"):
        task = tasks.get(a["task_id"])
        if task is None or not task.prompt_file or not a.get("patch"):
            continue
        try:
            sols.setdefault(a["task_id"], []).append(apply_patch(task.repo_files, a["patch"])[task.prompt_file])
        except (PatchError, KeyError):
            continue
    return diversity(sols)


# -- bookkeeping -------------------------------------------------------------------------------
# Options that may change between runs of one loop folder: more iterations continue a finished
# loop (iterations already done are the same either way).
EXTENSIBLE = ("iterations",)


def _check_config(cfg: ImproveConfig, out: Path) -> None:
    path = out / CONFIG_FILE
    mine = cfg.to_dict()
    if path.is_file():
        # a field added since that loop started had its default's behaviour then
        theirs = {**{k: v for k, v in ImproveConfig().to_dict().items() if k not in json.loads(path.read_text())},
                  **json.loads(path.read_text())}
        differ = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v and k not in EXTENSIBLE}
        if differ:
            raise UserError(f"{path}: this folder holds a loop with a different config {differ}; "
                            "use another --out, or the same options to resume (--iterations may grow)")
        if mine["iterations"] < theirs.get("iterations", 0):
            raise UserError(f"{path}: this loop was started with --iterations {theirs['iterations']}; "
                            "pass at least that many to resume or continue it")
        if theirs == mine:
            return
    path.write_text(json.dumps(mine, indent=2))


def _write_metrics(out: Path, metrics: list[dict]) -> None:
    tmp = out / (METRICS_FILE + ".tmp")
    tmp.write_text(json.dumps(metrics, indent=2))
    tmp.replace(out / METRICS_FILE)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)
