"""The self-improvement loop (expert iteration / ReST-EM), resumable per stage.

for i in 0..K-1:
    run    model_i on the train split                       -> iter_i/run
    verify generated tests (+ held-out, for measurement)    -> verdicts in iter_i/run
    export attempts accepted by the chosen verifier, all iterations so far -> iter_i/data
    train  model_{i+1} from the base (or model_i)           -> iter_i/model
    eval   model_{i+1} on the eval split, held-out tests    -> iter_i/eval/eval_greedy, iter_i/eval/eval_sampled
           (and on the out-of-distribution set, if any)    -> iter_i/eval/ood/eval_*
Iteration 0 first evaluates the base model (base/eval_*). Each eval is measured against the
base model's, task by task (`measure.py`: intervals, paired difference, verdict).

Each finished stage leaves `<stage>.done.json` with its figures; a rerun skips finished stages
and the unfinished one resumes (runs, verification and training are themselves resumable).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable

from rich.console import Console

from codeagent.errors import UserError
from codeagent.evaluation.passk import mean_pass_at_k
from codeagent.evaluation.patching import PatchError, apply_patch
from codeagent.jsonl import write_json
from codeagent.run import config_differences, tasks_of_tier
from codeagent.runfolder import RunFolder
from codeagent.stats import ratio, rounded
from codeagent.tasks import load_tasks, tasks_by_id
from codeagent.verify import REFERENCE, accepts

from .config import ImproveConfig
from .diversity import diversity
from .engine import Serving
from .layout import (CONFIG_FILE, GREEDY_RUN, METRICS_FILE, OOD_FOLDER, SAMPLED_RUN, StageDir, eval_folder,
                     iteration_folder, recorded_metrics)
from .measure import measured
from .watch import check
from .paired import solved_counts

console = Console(stderr=True)


def improve(cfg: ImproveConfig, out: Path) -> list[dict]:
    """Run (or resume) the loop into `out`; returns the per-iteration metrics (also in metrics.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_config(cfg, out)
    train_split, eval_split = "train", "test"
    # clear errors before any work
    for task_set, split in ((cfg.task_set, train_split), (cfg.eval_task_set, eval_split)):
        tasks = load_tasks(task_set, split)
        if cfg.run.min_tier is not None and not tasks_of_tier(tasks, cfg.run.min_tier, task_set):
            raise UserError(f"--min-tier {cfg.run.min_tier}: no task of {task_set!r} split {split!r} is that hard")
    if cfg.eval.ood_set:
        load_tasks(cfg.eval.ood_set, "test")

    with Serving(cfg.engine, out) as serving:
        return _iterate(cfg, out, serving, train_split, eval_split)


def _iterate(cfg: ImproveConfig, out: Path, serving: Serving, train_split: str, eval_split: str) -> list[dict]:
    metrics: list[dict] = []
    groups = eval_groups(cfg, eval_split)  # loading a repository set re-applies every bug: once per loop
    # Models are passed as providers: a server starts only for work not done yet, so a resumed
    # (or reused, `reuse.py`) base eval costs no server start-up.
    base_eval = _evaluate_all(cfg, lambda: serving.use(cfg.model), eval_folder(out, 0), eval_split, groups)
    metrics.append({"iteration": 0, "model": cfg.model, **base_eval, "wall_s": {"eval": _eval_wall(base_eval)}})
    _write_metrics(out, metrics)
    model_i = cfg.model
    run_dirs: list[Path] = []
    for i in range(cfg.iterations):
        it = iteration_folder(out, i)
        it.mkdir(exist_ok=True)
        console.rule(f"[bold]iteration {i}: {model_i}")
        row: dict = {"iteration": i + 1, "trained_from": model_i, "wall_s": {}}

        run_dir = it / "run"
        row["train"] = _stage(StageDir(run_dir), lambda: _run(cfg, serving.use(model_i), run_dir, train_split), row, "run")
        row["verifier"] = _stage(StageDir(it / "verify"), lambda: _verify(cfg, run_dir, serving.use(model_i)), row, "verify")
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
        row["eval"] = _stage(StageDir(eval_dir), lambda: _evaluate(cfg, lambda: serving.use(next_model), eval_dir, eval_split), row, "eval")
        row["eval"] = measured(row["eval"], eval_dir, base=metrics[0]["eval"], groups=groups)
        _eval_diversity(cfg, row["eval"], eval_dir, eval_split)
        if cfg.eval.ood_set:
            ood_dir = eval_dir / OOD_FOLDER
            row["eval_ood"] = _stage(StageDir(ood_dir), lambda: _evaluate(cfg, lambda: serving.use(next_model), ood_dir, "test", ood=True),
                                     row, "eval_ood")
            row["eval_ood"] = measured(row["eval_ood"], ood_dir, base=metrics[0]["eval_ood"])
        metrics.append(row)
        model_i = next_model
        finding = check(cfg.watch, metrics)
        if finding:
            row["watch"] = finding
            console.print(f"[bold red]collapse watch ({finding['action']}): " + "; ".join(finding["reasons"]))
        _write_metrics(out, metrics)
        if finding and finding["action"] == "stop":
            break
        if finding and finding["action"] == "keep-previous":
            model_i = row["trained_from"]

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
def _run(cfg: ImproveConfig, model: str, out: Path, split: str) -> dict:
    from codeagent.run import run_agent
    summary = run_agent(replace(cfg.run, task_set=cfg.task_set, split=split, model=model), out)
    return {"n_attempts": summary.n_done, "completion_tokens": summary.completion_tokens,
            "exit_statuses": summary.exit_statuses}


def _verify(cfg: ImproveConfig, run_dir: Path, model: str) -> dict:
    """Generated tests (the model's own) + held-out (ground truth, used only for measurement
    unless --verifier heldout)."""
    from codeagent.verify.stage import verify_run
    result = verify_run(run_dir, replace(cfg.verify, verifiers=("generated", REFERENCE), model=cfg.test_model or model))
    gap = result.gap_report or {}
    gen = gap.get("verifiers", {}).get("generated", {})
    by_task: dict[str, list[bool]] = {}
    for v in RunFolder(run_dir).verdicts().values():
        by_task.setdefault(v.task_id, []).append(accepts(v, REFERENCE))
    return {
        "train_solve_rate": ratio(sum(any(x) for x in by_task.values()), len(by_task)),
        "train_attempt_pass_rate": ratio(sum(sum(x) for x in by_task.values()), sum(len(x) for x in by_task.values())),
        "generated_precision": gen.get("precision"), "generated_recall": gen.get("recall"),
        "generated_fpr": gen.get("false_positive_rate"), "generated_accepted": gen.get("n_accepted"),
        "hack_flagged": gap.get("n_hack_flagged", 0),
        **_mutation_figures(run_dir),
    }


def _mutation_figures(run_dir: Path) -> dict:
    """Mean mutation score of the generated tests over tasks, and tasks whose tests kill no mutant
    (when the verifier checked adequacy)."""
    scores = {v.task_id: v.part("generated").mutation_score for v in RunFolder(run_dir).verdicts().values()
              if v.part("generated") is not None and v.part("generated").mutation_score is not None}
    if not scores:
        return {}
    return {"mutation_score": ratio(sum(scores.values()), len(scores)), "mutation_tasks": len(scores),
            "tasks_killing_no_mutant": sum(s == 0 for s in scores.values())}


def _export(cfg: ImproveConfig, run_dirs: list[Path], out: Path, iteration: int, eval_split: str) -> dict:
    from codeagent.export.stage import export_runs
    summary = export_runs(run_dirs, cfg.verifier, "hf", out, max_per_task=cfg.max_per_task,
                          eval_sets=eval_sets(cfg, eval_split), iteration=iteration, progress=False)
    return {"n_examples": summary.n_examples, "counts": summary.counts, "dropped": summary.dropped_by_reason}


def eval_sets(cfg: ImproveConfig, eval_split: str) -> list[str]:
    """Every set the loop evaluates on: training data must not overlap any of them."""
    return [f"{cfg.eval_task_set}:{eval_split}"] + ([f"{cfg.eval.ood_set}:test"] if cfg.eval.ood_set else [])


def eval_groups(cfg: ImproveConfig, eval_split: str) -> dict[str, str]:
    """Task id -> what it holds out, for eval sets whose tasks say (`metadata["heldout"]`: a
    repository set's test split holds out whole functions and one whole library, reported apart)."""
    return {t.id: str(t.metadata["heldout"]) for t in load_tasks(cfg.eval_task_set, eval_split)
            if t.metadata.get("heldout")}


def _train(cfg: ImproveConfig, data: Path, base: str, out: Path, exported: dict) -> dict:
    if exported["n_examples"] == 0:
        console.print("[yellow]no accepted examples: the model is carried over untrained")
        return {"model": None, "skipped": "no training examples"}
    from codeagent.train import sft
    path = sft.train_sft(replace(cfg.train, data=Path(data), out=Path(out), base=base))
    log = path / "training_log.json"
    losses = [loss for _, loss in json.loads(log.read_text()).get("loss_curve", [])] if log.is_file() else []
    return {"model": f"hf:{path}", "first_loss": losses[0] if losses else None,
            "last_loss": losses[-1] if losses else None, "n_examples": exported["n_examples"]}


def _evaluate_all(cfg: ImproveConfig, model: Callable[[], str], folder: Path, split: str,
                  groups: dict[str, str]) -> dict:
    """The base model's row: its eval (and out-of-distribution eval), measured."""
    figures = {"eval": measured(_evaluate(cfg, model, folder, split), folder, groups=groups)}
    _eval_diversity(cfg, figures["eval"], folder, split)
    if cfg.eval.ood_set:
        figures["eval_ood"] = measured(_evaluate(cfg, model, folder / OOD_FOLDER, "test", ood=True),
                                       folder / OOD_FOLDER)
    return figures


def _eval_wall(figures: dict) -> float:
    return round(sum(f.get("wall_s", 0.0) for k, f in figures.items() if k.startswith("eval")), 1)


def _evaluate(cfg: ImproveConfig, model: Callable[[], str], folder: Path, split: str, ood: bool = False) -> dict:
    """Greedy pass@1 and (if eval_samples) sampled pass@k on the eval split (or, `ood`, the
    out-of-distribution set), held-out tests. `model()` gives the spec to sample (starting its
    server); it is called only for a sub-run not finished yet."""
    task_set, max_tasks = (cfg.eval.ood_set, cfg.eval.ood_max_tasks) if ood else (cfg.eval_task_set, cfg.eval.max_tasks)
    greedy = StageDir(folder / GREEDY_RUN)
    figures: dict = {}
    g = greedy.done() or greedy.finish(_eval_run(cfg, model(), greedy.path, task_set, split, max_tasks, 1, 0.0))
    _say("eval greedy", g)
    # The sub-runs' own times, so a resumed loop reports the time the work took, not ~0 s of rereading.
    wall = g.get("wall_s", 0.0)
    figures["pass@1"] = g["pass@1"]
    figures["greedy_solved"] = g["n_solved"]
    figures["n_tasks"] = g["n_tasks"]
    k = cfg.eval.ood_samples if ood and cfg.eval.ood_samples is not None else cfg.eval.samples
    if k > 0:
        sampled = StageDir(folder / SAMPLED_RUN)
        s = sampled.done() or sampled.finish(_eval_run(cfg, model(), sampled.path, task_set, split, max_tasks, k,
                                                       cfg.run.temperature))
        figures[f"pass@{k}"] = s[f"pass@{k}"]
        figures["sampled_pass@1"] = s["pass@1"]
        wall += s.get("wall_s", 0.0)
    figures["wall_s"] = round(wall, 1)
    return figures


def _eval_run(cfg: ImproveConfig, model: str, out: Path, task_set: str, split: str, max_tasks: int | None,
              samples: int, temperature: float) -> dict:
    from codeagent.run import run_agent
    from codeagent.verify.stage import verify_run
    started = time.monotonic()
    # --min-tier slices the loop's own set (train and eval split alike), not the
    # out-of-distribution set, whose tasks may carry no tiers.
    min_tier = cfg.run.min_tier if task_set == cfg.eval_task_set else None
    run_agent(replace(cfg.run, task_set=task_set, split=split, model=model, samples=samples,
                      temperature=temperature, max_tasks=max_tasks, min_tier=min_tier), out)
    verify_run(out, replace(cfg.verify, verifiers=(REFERENCE,), model=None))
    counts = solved_counts(out)
    figures = {"n_tasks": len(counts), "n_solved": sum(c > 0 for _, c in counts.values()),
               "pass@1": rounded(mean_pass_at_k(counts, 1))}
    if samples > 1:
        figures[f"pass@{samples}"] = rounded(mean_pass_at_k(counts, samples))
    figures["wall_s"] = round(time.monotonic() - started, 1)
    return figures


def _eval_diversity(cfg: ImproveConfig, figures: dict, folder: Path, split: str) -> None:
    """Diversity of the model's sampled eval solutions (the collapse watch compares it with the base
    model's: the same tasks, the same number of samples)."""
    if StageDir(folder / SAMPLED_RUN).done() is not None:
        figures["diversity"] = _diversity(cfg, folder / SAMPLED_RUN, split, cfg.eval_task_set)


def _diversity(cfg: ImproveConfig, run_dir: Path, split: str, task_set: str | None = None) -> dict:
    tasks = tasks_by_id(load_tasks(task_set or cfg.task_set, split))
    sols: dict[str, list[str]] = {}
    for a in RunFolder(run_dir).attempts(required=False):
        task = tasks.get(a.task_id)
        path = task and (task.prompt_file or task.metadata.get("file"))  # repository tasks: the buggy file
        if not path or not a.patch:
            continue
        try:
            sols.setdefault(a.task_id, []).append(apply_patch(task.repo_files, a.patch)[path])
        except (PatchError, KeyError):
            continue
    return diversity(sols)


# -- bookkeeping -------------------------------------------------------------------------------
# Options that may change between runs of one loop folder: more iterations continue a finished
# loop (iterations already done are the same either way); where the work fans out changes no result.
EXTENSIBLE = ("iterations", "run.executor", "run.executor_options", "verify.executor", "verify.executor_options")
# An out-of-distribution eval may be added to a loop that had none: it only adds evals. Only while
# at most one iteration is done (or the watch merely warns), because the collapse watch also reads
# it: on a longer history it could now discard or stop at a model that later iterations built on.
OOD_FIELDS = ("eval.ood_set", "eval.ood_max_tasks", "eval.ood_samples")


def _check_config(cfg: ImproveConfig, out: Path) -> None:
    path = out / CONFIG_FILE
    mine = cfg.to_dict()
    if path.is_file():
        theirs = json.loads(path.read_text())
        defaults = _flat(ImproveConfig().to_dict())
        differ = {k: (a, b) for k, a, b in config_differences(theirs, mine)
                  if k not in EXTENSIBLE and not (_absent(theirs, k) and b == defaults.get(k))}
        if not theirs.get("eval", {}).get("ood_set") and any(k in differ for k in OOD_FIELDS):
            done = max(len(recorded_metrics(out)) - 1, 0)
            if done <= 1 or cfg.watch.action == "warn":
                differ = {k: v for k, v in differ.items() if k not in OOD_FIELDS}
            elif not any(k not in OOD_FIELDS for k in differ):
                raise UserError(f"{path}: an out-of-distribution eval can be added to a loop only while at most "
                                f"one iteration is done (this one has {done}) or with --on-collapse warn: the "
                                "collapse watch reads it and could now reject a model later iterations built on; "
                                "start a new --out for it")
        if differ:
            raise UserError(f"{path}: this folder holds a loop with a different config {differ}; "
                            "use another --out, or the same options to resume (--iterations may grow)")
        if mine["iterations"] < theirs.get("iterations", 0):
            raise UserError(f"{path}: this loop was started with --iterations {theirs['iterations']}; "
                            "pass at least that many to resume or continue it")
        if theirs == mine:
            return
    path.write_text(json.dumps(mine, indent=2))


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {prefix + k: v})
    return out


def _absent(config: dict, dotted: str) -> bool:
    """Is this field missing from a recorded config (an option added since, which — at its default —
    changes nothing the loop did)?"""
    *parents, name = dotted.split(".")
    for p in parents:
        config = config.get(p, {})
    return name not in config


def _write_metrics(out: Path, metrics: list[dict]) -> None:
    write_json(out / METRICS_FILE, metrics)
