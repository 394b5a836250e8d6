"""The shape of an improve-loop folder: stage folders with completion markers, and where each
model is evaluated. The loop writes it; the report and `codeagent compare` read it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONFIG_FILE = "improve_config.json"
METRICS_FILE = "metrics.json"
GREEDY_RUN = "eval_greedy"
SAMPLED_RUN = "eval_sampled"
OOD_FOLDER = "ood"
"""Inside an eval folder: the evaluation on the out-of-distribution set (same run names)."""


@dataclass
class StageDir:
    """A stage's folder and its completion marker."""

    path: Path

    @property
    def marker(self) -> Path:
        return self.path.with_name(self.path.name + ".done.json")

    def done(self) -> dict | None:
        return json.loads(self.marker.read_text()) if self.marker.is_file() else None

    def finish(self, figures: dict) -> dict:
        tmp = self.marker.with_suffix(".tmp")
        tmp.write_text(json.dumps(figures, indent=2))
        tmp.replace(self.marker)
        return figures


def iteration_folder(out: Path, i: int) -> Path:
    """The folder of the loop's iteration `i` (0-based): its run, verify, data, model and eval stages."""
    return Path(out) / f"iter_{i}"


def eval_folder(out: Path, iteration: int) -> Path:
    """Where the loop in `out` evaluates the model of metrics row `iteration` (0: the base model)."""
    return Path(out) / "base" if iteration == 0 else iteration_folder(out, iteration - 1) / "eval"


def greedy_stage(out: Path, iteration: int) -> StageDir:
    """The greedy eval run of metrics row `iteration`."""
    return StageDir(eval_folder(out, iteration) / GREEDY_RUN)


def sampled_stage(out: Path, iteration: int) -> StageDir:
    """The sampled eval run of metrics row `iteration`."""
    return StageDir(eval_folder(out, iteration) / SAMPLED_RUN)


SEED_PREFIX = "seed_"


def seed_folder(out: Path, seed: int) -> Path:
    """The loop of one seed inside a several-seeds folder (`codeagent improve --seeds`)."""
    return Path(out) / f"{SEED_PREFIX}{seed}"


def seed_folders(out: Path) -> list[Path]:
    """The seed loops inside `out` that have metrics, by seed; [] for a plain loop folder."""
    found = [p for p in Path(out).glob(f"{SEED_PREFIX}*") if p.name[len(SEED_PREFIX):].isdigit()
             and (p / METRICS_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name[len(SEED_PREFIX):]))


def recorded_metrics(out: Path) -> list[dict]:
    """The rows of a loop folder's metrics.json: the base model's, then one per finished iteration
    ([] before the base eval is done)."""
    path = Path(out) / METRICS_FILE
    return json.loads(path.read_text()) if path.is_file() else []
