"""SWE-bench-format export and import: a round trip on our own tasks, offline."""

from __future__ import annotations

import json

import pytest

from codeagent.repos.grade import grade
from codeagent.repos.swebench import export_instances, import_instances

from repo_fixtures import reference_patch, tiny_task


def _task():
    t = tiny_task()
    t.metadata.update(source="tinylib", pin="tinylib==0", reference_patch=reference_patch())
    return t


def test_round_trip_keeps_repo_tests_reference_and_test_ids(tmp_path):
    original = _task()
    out = tmp_path / "instances.jsonl"
    assert export_instances([original], out, repos_dir=tmp_path / "repos") == 1
    inst = json.loads(out.read_text())
    assert inst["instance_id"] == "tiny__clamp" and inst["repo"] == "pypi/tinylib"
    assert len(inst["base_commit"]) == 40 and isinstance(inst["FAIL_TO_PASS"], list)
    # Other harnesses write the id lists as JSON strings: both forms are read.
    inst["PASS_TO_PASS"] = json.dumps(inst["PASS_TO_PASS"])
    out.write_text(json.dumps(inst) + "\n")
    report = import_instances(out, tmp_path / "repos", set_name="tiny")
    assert report.problems == []
    (back,) = report.tasks
    assert back.repo_files == original.repo_files
    assert back.heldout_tests == original.heldout_tests
    assert back.reference_files == original.reference_files
    assert (back.fail_to_pass, back.pass_to_pass) == (original.fail_to_pass, original.pass_to_pass)
    assert back.problem_statement == original.problem_statement
    # The same snapshot gives the same commit id on every export.
    again = tmp_path / "again.jsonl"
    export_instances([original], again, repos_dir=tmp_path / "repos2")
    assert json.loads(again.read_text())["base_commit"] == inst["base_commit"]


def test_missing_clone_or_commit_is_named_and_the_rest_is_kept(tmp_path):
    out = tmp_path / "instances.jsonl"
    export_instances([_task()], out, repos_dir=tmp_path / "repos")
    good = json.loads(out.read_text())
    no_clone = {**good, "instance_id": "x1", "repo": "someone/elsewhere"}
    no_commit = {**good, "instance_id": "x2", "base_commit": "f" * 40}
    out.write_text("\n".join(json.dumps(i) for i in (good, no_clone, no_commit)) + "\n{not json\n")
    report = import_instances(out, tmp_path / "repos")
    assert [t.id for t in report.tasks] == ["swebench/tiny__clamp"]
    text = "\n".join(report.problems)
    assert "no clone of someone/elsewhere" in text and "clone it to" in text
    assert "base commit 'ffff" in text and "fetch it" in text
    assert ":4: not a JSON object" in text


@pytest.mark.docker
@pytest.mark.slow
def test_an_imported_instance_grades_like_the_original(tmp_path):
    out = tmp_path / "instances.jsonl"
    export_instances([_task()], out, repos_dir=tmp_path / "repos")
    (task,) = import_instances(out, tmp_path / "repos").tasks
    assert grade(task, task.metadata["reference_patch"], backend="docker").resolved
    assert not grade(task, "", backend="docker").resolved
