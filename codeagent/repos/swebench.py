"""SWE-bench-format instances in and out, so other harnesses can consume our repository tasks
and ours can run theirs.

Export writes one JSON line per task (`instance_id, repo, base_commit, patch, test_patch,
problem_statement, FAIL_TO_PASS, PASS_TO_PASS, version`) with `patch` the reference fix, and
(with `repos_dir`) a git repository per library holding each task's buggy snapshot as a
parentless commit tagged with its instance id, so `base_commit` resolves offline.

Import reads such lines (FAIL_TO_PASS / PASS_TO_PASS as JSON strings or lists) against local
clones `REPOS/<owner>__<name>` (or `REPOS/<name>`): the base commit's tree is the agent's repo,
the files `test_patch` touches (after applying it) are the held-out tests, and the files `patch`
touches (after applying it) the reference. An instance whose clone or base commit is missing
is reported with what to do, and the rest are kept. `imported` writes what was read as a task
set (`format: swebench`) that is materialised from the clones again on every load.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from codeagent.errors import UserError
from codeagent.jsonl import input_records
from codeagent.tasks.base import Task

from .grade import patched_paths
from .taskset import unified_diff

FIXED_GIT_ENV = {"GIT_AUTHOR_NAME": "codeagent", "GIT_AUTHOR_EMAIL": "codeagent@localhost",
                 "GIT_COMMITTER_NAME": "codeagent", "GIT_COMMITTER_EMAIL": "codeagent@localhost",
                 "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z"}
"""Fixed identity and dates: the same snapshot always gets the same commit id."""
REQUIRED = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
            "FAIL_TO_PASS", "PASS_TO_PASS")


def _git(args: list[str], cwd: Path, env: dict | None = None, stdin: bytes | None = None) -> bytes:
    proc = subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True,
                          env={**os.environ, **FIXED_GIT_ENV, **(env or {})})
    if proc.returncode != 0:
        raise UserError(f"git {' '.join(args[:3])} in {cwd} failed: {proc.stderr.decode(errors='replace')[-300:]}")
    return proc.stdout


def repo_name(task: Task) -> str:
    return f"pypi/{task.metadata['source']}"


def commit_snapshot(clone: Path, files: dict[str, str], tag: str) -> str:
    """A parentless commit of `files` in `clone`, tagged `tag`; returns its id."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "tree"
        for rel, content in files.items():
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / rel).write_text(content, encoding="utf-8")
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": str(work),
               "GIT_DIR": str(clone / ".git")}
        _git(["add", "-A", "."], work, env)
        tree = _git(["write-tree"], work, env).decode().strip()
        commit = _git(["commit-tree", tree, "-m", f"snapshot {tag}"], clone).decode().strip()
    _git(["tag", "-f", tag, commit], clone)
    return commit


def export_instances(tasks: list[Task], out: Path, repos_dir: Path | None = None) -> int:
    """Write `tasks` (repository tasks only) as SWE-bench instances; returns how many."""
    n = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w") as f:
        for t in tasks:
            if not t.is_repository_task:
                continue
            instance_id = t.id.replace("/", "__")
            base = ""
            if repos_dir is not None:
                clone = repos_dir / repo_name(t).replace("/", "__")
                if not (clone / ".git").is_dir():
                    clone.mkdir(parents=True, exist_ok=True)
                    _git(["init", "-q", "."], clone)
                base = commit_snapshot(clone, t.repo_files, instance_id)
            test_patch = "".join(_new_file_patch(p, c) for p, c in sorted(t.heldout_tests.items()))
            f.write(json.dumps({
                "instance_id": instance_id, "repo": repo_name(t), "base_commit": base,
                "patch": t.metadata["reference_patch"], "test_patch": test_patch,
                "problem_statement": t.problem_statement, "FAIL_TO_PASS": list(t.fail_to_pass),
                "PASS_TO_PASS": list(t.pass_to_pass), "version": t.metadata.get("pin", ""),
            }) + "\n")
            n += 1
    return n


def _new_file_patch(path: str, content: str) -> str:
    if not content:  # an empty file has no hunk; git writes the header alone
        return f"diff --git a/{path} b/{path}\nnew file mode 100644\nindex 0000000..e69de29\n"
    body = unified_diff(path, "", content)
    return body.replace(f"diff --git a/{path} b/{path}\n", f"diff --git a/{path} b/{path}\nnew file mode 100644\n", 1) \
               .replace(f"--- a/{path}\n", "--- /dev/null\n", 1)


@dataclass
class ImportReport:
    tasks: list[Task] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    instances: list[dict] = field(default_factory=list)
    """The instances behind `tasks`, in order, with FAIL_TO_PASS / PASS_TO_PASS as lists."""
    clones: dict[str, Path] = field(default_factory=dict)
    """repo (`owner/name`) -> the clone its instances were read from."""


def _as_list(v) -> list[str]:
    return list(json.loads(v)) if isinstance(v, str) else list(v)


def import_instances(path: Path, repos_dir: Path, set_name: str = "swebench", split: str = "test") -> ImportReport:
    report = ImportReport()
    if not Path(path).is_file():
        raise UserError(f"{path}: no such instances file (JSON lines of SWE-bench instances)")
    if not Path(repos_dir).is_dir():
        raise UserError(f"--repos {repos_dir}: no such folder (it should hold the clones, REPOS/<owner>__<name>)")
    for where, inst in input_records(path, "instance", problems=report.problems):
        missing = [k for k in REQUIRED if k not in inst]
        if missing:
            report.problems.append(f"{where}: missing field(s) {', '.join(missing)}")
            continue
        try:
            inst = {**inst, "FAIL_TO_PASS": _as_list(inst["FAIL_TO_PASS"]),
                    "PASS_TO_PASS": _as_list(inst["PASS_TO_PASS"])}
        except (ValueError, TypeError):
            report.problems.append(f"{where} ({inst['instance_id']}): FAIL_TO_PASS / PASS_TO_PASS must be lists "
                                   "of test ids or JSON strings of such lists")
            continue
        try:
            clone = find_clone(repos_dir, inst["repo"])
            report.tasks.append(instance_task(inst, clone, set_name, split))
        except UserError as e:
            report.problems.append(f"{where} ({inst['instance_id']}): {e}")
            continue
        report.instances.append(inst)
        report.clones[inst["repo"]] = clone
    return report


def find_clone(repos_dir: Path, repo: str) -> Path:
    """The clone of `repo` (`owner/name`) in `repos_dir`: `<owner>__<name>` or `<name>`."""
    clone = next((c for c in (repos_dir / repo.replace("/", "__"), repos_dir / repo.split("/")[-1])
                  if (c / ".git").exists()), None)
    if clone is None:
        raise UserError(f"no clone of {repo} in {repos_dir}; clone it to {repos_dir / repo.replace('/', '__')}")
    return clone


def instance_task(inst: dict, clone: Path, set_name: str, split: str = "test") -> Task:
    """The task of one instance, read from `clone` at its base commit."""
    probe = subprocess.run(["git", "cat-file", "-e", f"{inst['base_commit']}^{{commit}}"], cwd=clone,
                           capture_output=True)
    if probe.returncode != 0 or not inst["base_commit"]:
        raise UserError(f"base commit {inst['base_commit']!r} is not in {clone}; fetch it there "
                        "(`git fetch origin COMMIT`)")
    base = _tree_files(clone, inst["base_commit"])
    tests = _after_patch(base, inst["test_patch"], "test_patch")
    fixed = _after_patch(base, inst["patch"], "patch")
    return Task(id=f"{set_name}/{inst['instance_id']}", task_set=set_name, split=split,
                problem_statement=inst["problem_statement"], repo_files=base, heldout_tests=tests,
                reference_files=fixed, fail_to_pass=_as_list(inst["FAIL_TO_PASS"]),
                pass_to_pass=_as_list(inst["PASS_TO_PASS"]),
                metadata={"kind": "repo", "source": inst["repo"], "family": inst["repo"],
                          "instance_id": inst["instance_id"], "base_commit": inst["base_commit"],
                          "reference_patch": inst["patch"], "version": inst.get("version", ""),
                          "timeout_s": 120})


def _tree_files(clone: Path, commit: str) -> dict[str, str]:
    data = _git(["archive", "--format=tar", commit], clone)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.isfile():
                try:
                    out[m.name] = tar.extractfile(m).read().decode("utf-8")
                except UnicodeDecodeError:
                    continue  # binary files are not part of a text snapshot
    return out


def _after_patch(base: dict[str, str], patch: str, what: str) -> dict[str, str]:
    """The files `patch` touches, as they are after applying it to `base`."""
    touched = patched_paths(patch)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel in touched:
            if rel in base:
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_text(base[rel], encoding="utf-8")
        proc = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=root, input=patch.encode(),
                              capture_output=True)
        if proc.returncode != 0:
            raise UserError(f"{what} does not apply to the base commit: {proc.stderr.decode(errors='replace')[-300:]}")
        return {rel: (root / rel).read_text(encoding="utf-8") for rel in touched if (root / rel).is_file()}
