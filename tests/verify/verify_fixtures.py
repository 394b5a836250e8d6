"""Building run dirs for verify tests: the files `codeagent run` writes, with real patches."""

from __future__ import annotations

import json
from pathlib import Path

from codeagent.jsonl import JsonlAppender
from codeagent.runfolder import GENERATED_TESTS_FILE, TRAJECTORIES_FILE
from codeagent.trajectory import Attempt
from codeagent.verify.testgen import GeneratedTests


def write_run(run_dir: Path, patches: list[tuple[str, str]], model: str = "scripted:none",
              task_set: str = "humaneval", split: str = "test") -> list[Attempt]:
    """A run dir holding one attempt per (task id, patch), numbered per task in order."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        {"run_id": run_dir.name, "task_set": task_set, "split": split, "model": model, "agent": "planted"}))
    counts: dict[str, int] = {}
    attempts = []
    with JsonlAppender(run_dir / TRAJECTORIES_FILE) as out:
        for task_id, patch in patches:
            index = counts.get(task_id, 0)
            counts[task_id] = index + 1
            a = Attempt(run_id=run_dir.name, task_id=task_id, task_set=task_set, split=split, sample_index=index,
                        model=model, agent="planted", agent_config={}, patch=patch)
            out.append(a.to_dict())
            attempts.append(a)
    return attempts


def write_generated_tests(run_dir: Path, tests: dict[str, list[str]]) -> None:
    """Pre-recorded generated tests (the replay path: no model needed)."""
    with JsonlAppender(run_dir / GENERATED_TESTS_FILE) as out:
        for task_id, sources in tests.items():
            out.append(GeneratedTests(task_id=task_id, model="fixture", tests=sources, prompt=[]).to_dict())
