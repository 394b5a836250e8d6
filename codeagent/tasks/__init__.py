"""Task sets: a registry of built-in sets plus every folder under `task_sets/`, or any path."""

from __future__ import annotations

import importlib
from pathlib import Path

from .base import SPLITS, Task, TaskSet, TaskSetError, tasks_by_id

# Built-in sets whose data lives in a package, not in task_sets/.
BUILTIN: dict[str, str] = {
    "humaneval": "codeagent.tasks.humaneval:HumanEvalTaskSet",
}


def task_sets_dir() -> Path:
    """`task_sets/` of the source checkout (the package is installed editable)."""
    return Path(__file__).resolve().parents[2] / "task_sets"


def available_task_sets() -> dict[str, str]:
    """name -> where it comes from."""
    found = {name: f"built-in ({ref.split(':')[0]})" for name, ref in BUILTIN.items()}
    root = task_sets_dir()
    if root.is_dir():
        for d in sorted(root.iterdir()):
            if (d / "taskset.yaml").is_file():
                found[d.name] = str(d)
    return found


def load_task_set(name_or_path: str) -> TaskSet:
    """A task set by registry name (`humaneval`, `pyfuncs`, …) or by path to a set folder."""
    if name_or_path in BUILTIN:
        module, _, attr = BUILTIN[name_or_path].partition(":")
        return getattr(importlib.import_module(module), attr)()
    from .declarative import DeclarativeTaskSet
    path = Path(name_or_path)
    if not path.exists():
        path = task_sets_dir() / name_or_path
    if not path.exists():
        raise TaskSetError(f"unknown task set {name_or_path!r}; known: {', '.join(available_task_sets())} "
                           "(or pass a path to a folder with a taskset.yaml)")
    return DeclarativeTaskSet.load(path)


def load_tasks(name_or_path: str, split: str | None = None) -> list[Task]:
    ts = load_task_set(name_or_path)
    if split is not None and split not in ts.splits():
        raise TaskSetError(f"task set {ts.name!r} has no {split!r} split; it has: {', '.join(ts.splits())}")
    return ts.tasks(split)


__all__ = ["SPLITS", "Task", "TaskSet", "TaskSetError", "available_task_sets", "load_task_set",
           "load_tasks", "tasks_by_id"]
