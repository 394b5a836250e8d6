"""Work a loop of a sweep takes from a sibling loop that already did the same work.

In a sweep, loops that differ only in what happens after the first samples — the verifier mode
choosing training data, the training recipe — begin with identical work: the base model's eval and
its first run on the train split (with its verification, which always computes both the generated
and the held-out verdicts). On 2 CPU cores that is a third or more of a loop. A loop folder about to
start takes a finished copy of that work from an earlier loop whose config agrees on every field
the work depends on (the seed included), and records where it came from in `reused.json`. Besides
the time, the modes then differ only by what they chose to train on: the same base numbers, the
same candidate attempts.

Only a folder that has not started that work yet is filled; a half-done one resumes its own.
Files are copied, not linked: the loop may rewrite its own files later.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from codeagent.jsonl import write_json

from .config import ImproveConfig
from .layout import METRICS_FILE, OOD_FOLDER, StageDir, eval_folder, iteration_folder, recorded_metrics

REUSED_FILE = "reused.json"


def _without(d: dict, *names: str) -> dict:
    return {k: v for k, v in d.items() if k not in names}


def base_eval_key(cfg: ImproveConfig) -> dict:
    """What the base model's eval depends on. The eval run replaces the run template's samples and
    task slice with its own, so those two do not matter."""
    d = cfg.to_dict()
    return {"model": cfg.model, "eval_set": cfg.eval_task_set, "engine": cfg.engine, "eval": d["eval"],
            "run": _without(d["run"], "samples", "max_tasks"), "verify": d["verify"]}


def first_run_key(cfg: ImproveConfig) -> dict:
    """What the base model's first run on the train split, and its verification, depend on."""
    d = cfg.to_dict()
    return {"model": cfg.model, "task_set": cfg.task_set, "engine": cfg.engine, "run": d["run"],
            "verify": d["verify"], "test_model": cfg.test_model}


@dataclass(frozen=True)
class Shareable:
    """One piece of work: what decides it, the paths it leaves in a loop folder, and when it is finished."""

    name: str
    key: Callable[[ImproveConfig], dict]
    paths: Callable[[Path], list[Path]]
    finished: Callable[[Path], bool]


SHAREABLE = (
    # metrics.json gains its first row only once the whole base eval (out-of-distribution set included) is done
    Shareable("base eval", base_eval_key, lambda out: [eval_folder(out, 0)],
              lambda out: (out / METRICS_FILE).is_file()),
    # An out-of-distribution eval added to loops that already had their base eval (`loop.py`
    # allows that): the base model's part of it, copied on its own.
    Shareable("base out-of-distribution eval", base_eval_key, lambda out: [eval_folder(out, 0) / OOD_FOLDER],
              lambda out: any(row.get("eval_ood") is not None for row in recorded_metrics(out)[:1])),
    Shareable("first run", first_run_key, lambda out: _first_run_paths(iteration_folder(out, 0)),
              lambda out: StageDir(iteration_folder(out, 0) / "verify").marker.is_file()),
)


def _first_run_paths(it: Path) -> list[Path]:
    """The run folder (verification writes its verdicts there too) and the two stages' markers."""
    run = StageDir(it / "run")
    return [run.path, run.marker, StageDir(it / "verify").marker]


def reuse(cfg: ImproveConfig, out: Path, donors: list[tuple[ImproveConfig, Path]]) -> list[dict]:
    """Copy into `out` each piece of work it has not started that a finished donor loop did with the
    same key; returns what was copied (also appended to out/reused.json)."""
    out = Path(out)
    taken = []
    for work in SHAREABLE:
        if any(p.exists() for p in work.paths(out)):
            continue
        mine = work.key(cfg)
        donor = next((folder for donor_cfg, folder in donors
                      if Path(folder) != out and work.finished(Path(folder)) and work.key(donor_cfg) == mine), None)
        if donor is None:
            continue
        for src, dst in zip(work.paths(Path(donor)), work.paths(out)):
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(dst.name + ".copying")
            shutil.rmtree(tmp, ignore_errors=True)
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, tmp)
            tmp.replace(dst)  # whole or not at all: a kill mid-copy leaves only the .copying folder
        taken.append({"work": work.name, "from": str(donor)})
    if taken:
        path = out / REUSED_FILE
        earlier = json.loads(path.read_text()) if path.is_file() else []
        write_json(path, earlier + taken)
    return taken
