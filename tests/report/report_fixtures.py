"""Folders the report pages read, made the way the stages make them."""

from __future__ import annotations

import json
from pathlib import Path

from codeagent.improve import preset_config
from codeagent.improve.layout import CONFIG_FILE, METRICS_FILE, greedy_stage

SCRIPT = Path(__file__).parents[1] / "fixtures" / "report" / "scripted_run.json"
HOSTILE = "</textarea></pre><script>document.body.dataset.pwned = 'script'</script>"
"""Part of the scripted model's reply to `is_odd` (in its prose and in the code it writes)."""


from codeagent.runfolder import RunFolder
from codeagent.verify.record import HackFlag, HeldoutVerdict, Verdict

def make_run(out: Path) -> Path:
    """A real run: the scripted model on the first 3 pyfuncs train tasks, 2 samples each (is_odd
    right, with hostile markup in the reply; stack_peek wrong; count_up an always-equal hack),
    then both verifiers in local sandboxes (the model's own tests come from the same script)."""
    from codeagent.run import RunConfig, run_agent
    from codeagent.verify.stage import VerifyConfig, verify_run
    run_agent(RunConfig(task_set="pyfuncs", split="train", model=f"scripted:{SCRIPT}", samples=2, max_tasks=3,
                        concurrency=1, backend="local", progress=False), out)
    verify_run(out, VerifyConfig(verifiers=("generated", "heldout"), backend="local", samples=1, progress=False,
                                 cache_dir=out.parent / "eval-cache"))
    return out


# Greedy eval outcomes per metrics row (task -> solved); `e` passes only with a hack flag.
EVAL = {0: {"a": True, "b": True, "c": False, "d": False, "e": False},
        1: {"a": True, "b": False, "c": True, "d": True, "e": False},
        2: {"a": True, "b": True, "c": True, "d": True, "e": False}}


def make_loop(out: Path) -> Path:
    """A finished 2-iteration loop folder: config, metrics rows as the loop writes them, and the
    greedy eval verdicts of each row where the loop keeps them (base: 2 of 5 eval tasks solved;
    iteration 1: +2/-1; iteration 2: +2/-0)."""
    cfg = preset_config("ci", eval_tasks=5)
    out.mkdir(parents=True)
    (out / CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2))
    metrics = []
    for i, outcomes in EVAL.items():
        stage = greedy_stage(out, i)
        stage.path.mkdir(parents=True)
        with RunFolder(stage.path).verdicts_writer() as verdicts:
            for t, ok in outcomes.items():
                part = HeldoutVerdict(passed=ok or t == "e", n_pass=1, n_total=1, per_test={})
                verdicts.append(Verdict(f"pyfuncs/{t}#0", f"pyfuncs/{t}", parts={"heldout": part},
                                        hack_flags=[HackFlag("always-equal", "x")] if t == "e" else []).to_dict())
        stage.finish({"n_tasks": 5, "n_solved": sum(outcomes.values())})
        solved = sum(outcomes.values())
        row = {"iteration": i, "model": cfg.model if i == 0 else f"hf:{out}/iter_{i - 1}/model",
               "eval": {"pass@1": solved / 5, "greedy_solved": solved, "n_tasks": 5, "pass@2": min(1.0, solved / 5 + 0.1),
                        "sampled_pass@1": solved / 5, "wall_s": 10.0 * (i + 1)},
               "wall_s": {"eval": 10.0 * (i + 1)}}
        if i:
            row |= {"trained_from": cfg.model, "train": {"n_attempts": 6},
                    "verifier": {"train_solve_rate": 0.25 * i, "train_attempt_pass_rate": 0.125 * i,
                                 "generated_precision": 0.5 + 0.125 * i, "generated_recall": 0.75,
                                 "generated_fpr": 0.25, "generated_accepted": 3 + i, "hack_flagged": 1},
                    "diversity": {"distinct_per_task": 1.5, "mean_pairwise_distance": 0.2 * i},
                    "data": {"n_examples": 2 * i}, "training": {"model": row["model"]}}
            row["wall_s"] |= {"run": 30.0, "verify": 12.0, "export": 1.0, "train": 40.0}
        metrics.append(row)
    (out / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    return out
