"""`codeagent tasks import-swebench --out`: instances written as a `format: swebench` set that
`load_tasks` reads from the local clones; round trip on our own tasks, offline."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from codeagent.cli import main
from codeagent.errors import UserError
from codeagent.repos.grade import grade
from codeagent.repos.imported import import_set
from codeagent.repos.swebench import export_instances
from codeagent.tasks import TaskSetError, load_tasks, task_sets_dir

from repo_fixtures import reference_patch, tiny_task

PICKED = {"toolz": 0, "inflection": 0}
"""From the shipped set, the first task of two libraries (one pytest suite each, sdists cached)."""


def _own_set(root: Path) -> Path:
    """A small `format: repos` set: tasks copied from task_sets/pyrepos, as a user would cut one."""
    shipped = task_sets_dir() / "pyrepos"
    split = json.loads((shipped / "split.json").read_text())
    out = root / "mini"
    (out / "tasks").mkdir(parents=True)
    ids = {}
    for source, index in PICKED.items():
        line = (shipped / "tasks" / f"{source}.jsonl").read_text().splitlines()[index]
        (out / "tasks" / f"{source}.jsonl").write_text(line + "\n")
        task_id = json.loads(line)["id"]
        ids[task_id] = split[task_id]
    (out / "split.json").write_text(json.dumps(ids))
    (out / "taskset.yaml").write_text(yaml.safe_dump({"name": "mini", "format": "repos", "sources": list(PICKED),
                                                      "heldout_library": None, "split_file": "split.json"}))
    return out


@pytest.mark.docker
@pytest.mark.slow
def test_export_clone_import_round_trip_grades_like_the_original(tmp_path):
    mini = _own_set(tmp_path)
    instances, exported, clones = tmp_path / "mini.jsonl", tmp_path / "exported", tmp_path / "clones"
    assert main(["tasks", "export-swebench", str(mini), "--out", str(instances), "--repos", str(exported)]) == 0
    # Other harnesses start from clones, not from the exporter's own repos: clone each one.
    clones.mkdir()
    for repo in sorted(exported.iterdir()):
        subprocess.run(["git", "clone", "-q", str(repo), str(clones / repo.name)], check=True, capture_output=True)
    out = tmp_path / "sets" / "mini_swe"
    assert main(["tasks", "import-swebench", str(instances), "--repos", str(clones), "--out", str(out)]) == 0
    meta = yaml.safe_load((out / "taskset.yaml").read_text())
    assert meta["format"] == "swebench" and set(meta["repos"]) == {"pypi/toolz", "pypi/inflection"}

    originals = {t.id.replace("/", "__"): t for t in load_tasks(str(mini))}
    imported = load_tasks(str(out))
    assert sorted(t.id for t in imported) == sorted(f"mini_swe/{i}" for i in originals)
    for task in imported:
        original = originals[task.metadata["instance_id"]]
        assert task.repo_files == original.repo_files and task.heldout_tests == original.heldout_tests
        assert (task.fail_to_pass, task.pass_to_pass) == (original.fail_to_pass, original.pass_to_pass)
        assert task.split == "test" and task.problem_statement == original.problem_statement
        fixed = grade(task, task.metadata["reference_patch"], backend="docker")
        assert fixed.resolved, (task.id, fixed.message)
        unfixed = grade(task, "", backend="docker")
        assert not unfixed.resolved and unfixed.error is None, task.id
        assert "passed" not in unfixed.fail_to_pass.values()


def _tiny_set(tmp_path) -> tuple[Path, Path]:
    t = tiny_task()
    t.metadata.update(source="tinylib", pin="tinylib==0", reference_patch=reference_patch())
    instances = tmp_path / "tiny.jsonl"
    export_instances([t], instances, repos_dir=tmp_path / "repos")
    out = tmp_path / "tiny_swe"
    report = import_set(instances, tmp_path / "repos", out, split="train")
    assert report.problems == [] and len(report.tasks) == 1
    return out, tmp_path / "repos" / "pypi__tinylib"


def test_a_written_set_loads_again_from_its_clone(tmp_path):
    out, _ = _tiny_set(tmp_path)
    (task,) = load_tasks(str(out), "train")
    assert task.id == "tiny_swe/tiny__clamp" and task.repo_files == tiny_task().repo_files
    assert task.metadata["reference_patch"] == reference_patch()


def test_a_missing_clone_or_commit_fails_the_load_naming_the_instance(tmp_path):
    out, clone = _tiny_set(tmp_path)
    shutil.rmtree(clone)
    with pytest.raises(TaskSetError, match=r"instances.jsonl:1 \(tiny__clamp\): the clone of pypi/tinylib is "
                                           r"missing at .*clone it there again"):
        load_tasks(str(out))
    subprocess.run(["git", "init", "-q", str(clone)], check=True)  # a clone without the base commit
    with pytest.raises(TaskSetError, match=r"\(tiny__clamp\): base commit '[0-9a-f]{40}' is not in .*fetch it"):
        load_tasks(str(out))


def test_import_never_overwrites_another_kind_of_set(tmp_path):
    t = tiny_task()
    t.metadata.update(source="tinylib", reference_patch=reference_patch())
    export_instances([t], tmp_path / "i.jsonl", repos_dir=tmp_path / "repos")
    with pytest.raises(UserError, match="format 'functions'"):
        import_set(tmp_path / "i.jsonl", tmp_path / "repos", task_sets_dir() / "pyfuncs")
    # Nothing readable: nothing written.
    (tmp_path / "elsewhere").mkdir()
    report = import_set(tmp_path / "i.jsonl", tmp_path / "elsewhere", tmp_path / "empty")
    assert not report.tasks and "no clone of pypi/tinylib" in report.problems[0]
    assert not (tmp_path / "empty").exists()
