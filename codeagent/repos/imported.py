"""The `format: swebench` task set: SWE-bench-format instances kept with the clones they need.

    taskset.yaml     name, description, format: swebench, split, repos {owner/name: clone path},
                     imported_from (the instances file it was read from)
    instances.jsonl  the instances as read (FAIL_TO_PASS / PASS_TO_PASS as lists), one a line

The repositories are not copied: a clone can be gigabytes, and the instances only make sense
against it. Every load reads each instance's repo from its clone at `base_commit` again (as
`swebench.instance_task` does at import), so a clone or commit that went missing since the import
fails the load with a message naming the instance and what to do, never a silently smaller set.
A relative clone path is taken from the set folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from codeagent.errors import UserError
from codeagent.jsonl import input_records
from codeagent.tasks.base import SPLITS, Task, TaskSetError

from .swebench import ImportReport, import_instances, instance_task

FORMAT = "swebench"
INSTANCES_FILE = "instances.jsonl"


def import_set(instances: Path, repos_dir: Path, out: Path, split: str = "test") -> ImportReport:
    """Read `instances` against the clones in `repos_dir` and write what was read as a set at `out`
    (the set's name is the folder's). Instances that cannot be read are in the report's problems."""
    if split not in SPLITS:
        raise UserError(f"--split {split!r}: use one of {', '.join(SPLITS)}")
    meta_path = out / "taskset.yaml"
    if meta_path.is_file():
        fmt = (yaml.safe_load(meta_path.read_text()) or {}).get("format")
        if fmt != FORMAT:
            raise UserError(f"{out} already holds a task set of format {fmt!r}; choose another --out "
                            f"(only an earlier `{FORMAT}` import is replaced)")
    report = import_instances(instances, repos_dir, set_name=out.name, split=split)
    if not report.tasks:
        return report
    out.mkdir(parents=True, exist_ok=True)
    with open(out / INSTANCES_FILE, "w") as f:
        for inst in report.instances:
            f.write(json.dumps(inst, sort_keys=True) + "\n")
    meta = {
        "name": out.name,
        "description": f"SWE-bench-format instances imported from {Path(instances).name} "
                       "(repos read from local clones at each base_commit).",
        "format": FORMAT,
        "split": split,
        "imported_from": str(Path(instances).resolve()),
        "repos": {repo: str(clone.resolve()) for repo, clone in sorted(report.clones.items())},
    }
    meta_path.write_text(yaml.safe_dump(meta, sort_keys=False, width=100))
    return report


def load_swebench_tasks(root: Path, meta: dict, name: str) -> list[Task]:
    """Tasks of a `format: swebench` set folder, read from their clones."""
    split = meta.get("split", "test")
    if split not in SPLITS:
        raise TaskSetError(f"{root / 'taskset.yaml'}: field 'split' must be one of {', '.join(SPLITS)}, got {split!r}")
    repos = meta.get("repos") or {}
    if not isinstance(repos, dict):
        raise TaskSetError(f"{root / 'taskset.yaml'}: field 'repos' must map owner/name to a clone path")
    path = root / INSTANCES_FILE
    if not path.is_file():
        raise TaskSetError(f"{path}: missing; import the instances again with `codeagent tasks import-swebench`")
    tasks = []
    for where, inst in input_records(path, "instance", TaskSetError):
        instance_id = inst.get("instance_id", "?")
        if inst.get("repo") not in repos:
            raise TaskSetError(f"{where} ({instance_id}): repo {inst.get('repo')!r} has no clone in the set's "
                               f"'repos' ({root / 'taskset.yaml'}); add `{inst.get('repo')}: PATH` there")
        clone = Path(os.path.expanduser(str(repos[inst["repo"]])))
        clone = clone if clone.is_absolute() else root / clone
        if not (clone / ".git").exists():
            raise TaskSetError(f"{where} ({instance_id}): the clone of {inst['repo']} is missing at {clone}; "
                               "clone it there again, or fix its path under 'repos' in taskset.yaml")
        try:
            tasks.append(instance_task(inst, clone, name, split))
        except UserError as e:
            raise TaskSetError(f"{where} ({instance_id}): {e}") from None
    return tasks
