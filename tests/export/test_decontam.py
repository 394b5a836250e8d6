"""Decontamination of repository tasks by source function and by held-out library: on constructed
task records, and through the export stage on real repository sets cut from task_sets/pyrepos."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from codeagent.export import export_runs
from codeagent.export.decontam import Decontaminator, EvalSplit
from codeagent.jsonl import JsonlAppender
from codeagent.tasks import Task, load_tasks, task_sets_dir
from codeagent.trajectory import Attempt

from export_fixtures import verdict

EVAL = EvalSplit("bugs", "test")


def _repo_task(task_id: str, source: str, file: str, function: str, heldout: str | None = None) -> Task:
    return Task(id=task_id, task_set=task_id.split("/")[0], split="test" if heldout else "train",
                problem_statement=f"There is a bug in `{source}`.", repo_files={file: "x = 1\n"},
                heldout_tests={"tests/test_x.py": "def test_x():\n    pass\n"}, fail_to_pass=["tests/test_x.py::test_x"],
                metadata={"kind": "repo", "source": source, "file": file, "function": function, "heldout": heldout})


def _decontaminator() -> Decontaminator:
    eval_tasks = [_repo_task("bugs/merge_1", "toolz", "toolz/dicttoolz.py", "merge", heldout="function"),
                  _repo_task("bugs/ordinal_1", "inflection", "inflection/__init__.py", "ordinal", heldout="library")]
    return Decontaminator([EVAL], tasks={EVAL: eval_tasks})


def test_another_bug_in_an_eval_function_is_not_training_data():
    d = _decontaminator()
    same_function = _repo_task("other/merge_2", "toolz", "toolz/dicttoolz.py", "merge")
    assert d.shares_source(same_function) == "eval-function:toolz:toolz/dicttoolz.py:merge:bugs/merge_1"


def test_every_task_of_a_held_out_library_is_excluded():
    d = _decontaminator()
    other_function = _repo_task("other/pluralize_1", "inflection", "inflection/__init__.py", "pluralize")
    assert d.shares_source(other_function) == "heldout-library:inflection:bugs:test"


def test_other_functions_other_files_and_function_tasks_are_kept():
    d = _decontaminator()
    assert d.shares_source(_repo_task("other/get_1", "toolz", "toolz/itertoolz.py", "get")) is None
    # Same name in another file or another library is another function.
    assert d.shares_source(_repo_task("other/merge_3", "toolz", "toolz/curried.py", "merge")) is None
    assert d.shares_source(_repo_task("other/merge_4", "boltons", "toolz/dicttoolz.py", "merge")) is None
    plain = Task(id="pyfuncs/merge", task_set="pyfuncs", split="train", problem_statement="def merge(): ...",
                 repo_files={"solution.py": ""}, heldout_tests={}, metadata={"source": "families/dicts.yaml"})
    assert d.shares_source(plain) is None


# -- through the export stage ------------------------------------------------------------------
PYREPOS = task_sets_dir() / "pyrepos"
EVAL_LINES = {"toolz": [5], "inflection": [0]}
"""toolz `_is_partial_args` (held-out function) and one inflection bug (held-out library)."""
TRAIN_LINES = {"toolz": [35, 0], "inflection": [3]}
"""Another `_is_partial_args` bug, a `merge` bug, and an inflection `parameterize` bug."""


def _repo_set(root: Path, name: str, lines: dict[str, list[int]], split: str, heldout_library: str | None) -> Path:
    out = root / name
    (out / "tasks").mkdir(parents=True)
    ids = {}
    for source, picked in lines.items():
        all_lines = (PYREPOS / "tasks" / f"{source}.jsonl").read_text().splitlines()
        (out / "tasks" / f"{source}.jsonl").write_text("".join(all_lines[i] + "\n" for i in picked))
        ids.update({json.loads(all_lines[i])["id"]: split for i in picked})
    (out / "split.json").write_text(json.dumps(ids))
    (out / "taskset.yaml").write_text(yaml.safe_dump({"name": name, "format": "repos", "sources": list(lines),
                                                      "heldout_library": heldout_library,
                                                      "split_file": "split.json"}))
    return out


def test_export_drops_training_attempts_on_eval_functions_and_the_held_out_library(tmp_path):
    eval_set = _repo_set(tmp_path, "evalbugs", EVAL_LINES, "test", heldout_library="inflection")
    train_set = _repo_set(tmp_path, "trainbugs", TRAIN_LINES, "train", heldout_library=None)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"task_set": str(train_set), "split": "train", "model": "m",
                                                 "agent": "single", "run_id": "run-1"}))
    by_function = {}
    with JsonlAppender(run / "trajectories.jsonl") as traj, JsonlAppender(run / "verdicts.jsonl") as ver:
        for task in load_tasks(str(train_set)):
            attempt = Attempt(run_id="run-1", task_id=task.id, task_set="trainbugs", split="train", sample_index=0,
                              model="m", agent="single", agent_config={},
                              messages=[{"role": "user", "content": task.problem_statement},
                                        {"role": "assistant", "content": "fixed"}],
                              patch=task.metadata["reference_patch"])
            traj.append(attempt.to_dict())
            ver.append(verdict(attempt).to_dict())
            by_function[task.metadata["function"]] = attempt.attempt_id
    out = tmp_path / "data"
    summary = export_runs([run], "both", "openai", out, eval_sets=[f"{eval_set}:test"], progress=False)
    dropped = {r["attempt_id"]: r["reason"] for r in map(json.loads, (out / "dropped.jsonl").read_text().splitlines())}
    assert dropped[by_function["_is_partial_args"]].startswith(
        "eval-function:toolz:toolz/_signatures.py:_is_partial_args:evalbugs/")
    assert dropped[by_function["parameterize"]] == f"heldout-library:inflection:{eval_set}:test"
    assert by_function["merge"] not in dropped and summary.n_examples == 1
    sheet = json.loads((out / "datasheet.json").read_text())
    assert sheet["dropped_by_reason"] == {"eval-function": 1, "heldout-library": 1}
