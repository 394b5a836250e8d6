"""Task sets as data: a folder with `taskset.yaml` (see README "Task set format").

format `functions`: `families/*.yaml`, each a list of function-level tasks turned into one-file
repos (`solution.py` holds the stub); the split comes from `split_file` (a JSON object
`{task name: "train"|"test"}`) so it never drifts when tasks are added.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .base import SPLITS, Task, TaskSetError, round_robin

SOLUTION_FILE = "solution.py"
HELDOUT_FILE = "test_heldout.py"
EXAMPLES_FILE = "test_examples.py"
# format -> loader ("module:function(root, meta, name) -> list[Task]"); `functions` is this module's.
FORMATS: dict[str, str] = {
    "functions": "codeagent.tasks.declarative:load_function_tasks",
    "repos": "codeagent.repos.taskset:load_repo_tasks",
    "swebench": "codeagent.repos.imported:load_swebench_tasks",
}
REQUIRED_TASK_FIELDS = ("name", "tier", "entry_point", "prompt", "solution", "tests")

# The visible examples are the docstring's doctests, run by the same runner as any test file.
EXAMPLES_TEST = '''import doctest

import solution


def test_docstring_examples():
    result = doctest.testmod(solution, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed"
'''


@dataclass
class DeclarativeTaskSet:
    """A task set read from a folder of declarative files."""

    root: Path
    name: str = ""
    description: str = ""
    _tasks: list[Task] = field(default_factory=list, repr=False)

    @classmethod
    def load(cls, root: Path) -> "DeclarativeTaskSet":
        root = Path(root)
        meta_path = root / "taskset.yaml"
        if not meta_path.is_file():
            raise TaskSetError(f"{root}: not a task set (no taskset.yaml); see README 'Task set format'")
        meta = _read_yaml(meta_path)
        fmt = meta.get("format")
        if fmt not in FORMATS:
            raise TaskSetError(f"{meta_path}: field 'format' must be one of {', '.join(FORMATS)}, got {fmt!r}")
        name = meta.get("name") or root.name
        ts = cls(root=root, name=name, description=str(meta.get("description", "")).strip())
        module, _, attr = FORMATS[fmt].partition(":")
        ts._tasks = getattr(importlib.import_module(module), attr)(root, meta, name)
        return ts

    def splits(self) -> list[str]:
        return [s for s in SPLITS if any(t.split == s for t in self._tasks)]

    def tasks(self, split: str | None = None) -> list[Task]:
        if split is not None and split not in SPLITS:
            raise TaskSetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        return [t for t in self._tasks if split is None or t.split == split]


def _read_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise TaskSetError(f"{where}: invalid YAML ({getattr(e, 'problem', e)})") from None


def _read_split(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise TaskSetError(f"{path}: split file missing; run `python scripts/make_split.py {path.parent}`")
    split = json.loads(path.read_text())
    bad = {k: v for k, v in split.items() if v not in SPLITS}
    if bad:
        raise TaskSetError(f"{path}: split values must be one of {SPLITS}; bad: {bad}")
    return split


def load_function_tasks(root: Path, meta: dict, set_name: str) -> list[Task]:
    """Tasks of a `format: functions` set folder."""
    return _load_functions(root, set_name, _read_split(root / meta.get("split_file", "split.json")))


def _load_functions(root: Path, set_name: str, split: dict[str, str]) -> list[Task]:
    tasks: list[Task] = []
    seen: dict[str, Path] = {}
    for fam_path in sorted((root / "families").glob("*.yaml")):
        doc = _read_yaml(fam_path)
        family = doc.get("family") or fam_path.stem
        for i, raw in enumerate(doc.get("tasks") or []):
            where = f"{fam_path} task #{i + 1}"
            missing = [f for f in REQUIRED_TASK_FIELDS if f not in raw]
            if missing:
                raise TaskSetError(f"{where} ({raw.get('name', '?')}): missing field(s) {', '.join(missing)}")
            name = str(raw["name"])
            if name in seen:
                raise TaskSetError(f"{where}: duplicate task name {name!r} (also in {seen[name]})")
            seen[name] = fam_path
            if name not in split:
                raise TaskSetError(f"{where}: task {name!r} has no split in {root}/split.json; "
                                   f"run `python scripts/make_split.py {root}`")
            prompt = raw["prompt"].rstrip() + "\n"
            tasks.append(Task(
                id=f"{set_name}/{name}",
                task_set=set_name,
                split=split[name],
                problem_statement=prompt,
                repo_files={SOLUTION_FILE: prompt},
                heldout_tests={HELDOUT_FILE: "from solution import *  # noqa: F401,F403\n\n" + raw["tests"]},
                visible_tests={EXAMPLES_FILE: EXAMPLES_TEST} if ">>>" in prompt else {},
                reference_files={SOLUTION_FILE: raw["solution"]},
                entry_point=str(raw["entry_point"]),
                prompt_file=SOLUTION_FILE,
                metadata={"source": f"{fam_path.relative_to(root)}", "family": family,
                          "tier": int(raw["tier"]), "tags": list(raw.get("tags", []))},
            ))
    return round_robin(tasks, "family", within=lambda t: t.metadata["tier"])  # each family by tier, then file order
