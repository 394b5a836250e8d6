"""Tasks: a repository snapshot + a problem statement + held-out tests. One shape for all sizes."""

from __future__ import annotations

from codeagent.errors import UserError

from dataclasses import asdict, dataclass, field
from typing import Iterable, Protocol

SPLITS = ("train", "test")


class TaskSetError(UserError):
    """A task set that cannot be found or read; the message names the file/field and the fix."""


@dataclass
class Task:
    """One task. A solution is always a patch to `repo_files`."""

    id: str
    task_set: str
    split: str
    """`train` or `test`."""
    problem_statement: str
    """What the agent is told (for function-level tasks: the stub's signature and docstring)."""
    repo_files: dict[str, str]
    """The repository the agent starts from: relative path -> content."""
    heldout_tests: dict[str, str]
    """Test files never shown to an agent; copied in only at verification time."""
    visible_tests: dict[str, str] = field(default_factory=dict)
    """Optional examples the agent may run (e.g. doctest-style checks from the docstring)."""
    reference_files: dict[str, str] | None = None
    """Optional reference solution as full file contents (overrides repo files)."""
    test_command: str | None = None
    """None: the harness's own runner collects `test_*` functions from `heldout_tests`."""
    entry_point: str | None = None
    """Function-level tasks: the function to implement."""
    prompt_file: str | None = None
    """Function-level tasks: the file holding the stub (completions are appended to it)."""
    metadata: dict = field(default_factory=dict)
    """source, family, tier, tags, …"""
    fail_to_pass: list[str] = field(default_factory=list)
    """Repository tasks: pytest node ids that fail on `repo_files` and must pass after the fix."""
    pass_to_pass: list[str] = field(default_factory=list)
    """Repository tasks: node ids that pass on `repo_files` and must still pass after the fix."""

    @property
    def is_repository_task(self) -> bool:
        """Graded by FAIL_TO_PASS / PASS_TO_PASS with real pytest (`codeagent.repos.grade`)."""
        return bool(self.fail_to_pass)

    @property
    def protected_paths(self) -> list[str]:
        """Paths a patch may not touch (test files and anything the task marks protected)."""
        return sorted(set(self.heldout_tests) | set(self.visible_tests) | set(self.metadata.get("protected", [])))

    def to_dict(self) -> dict:
        return asdict(self)


class TaskSet(Protocol):
    """A named collection of tasks."""

    name: str
    description: str

    def tasks(self, split: str | None = None) -> list[Task]:
        """All tasks of `split` (None: every split), in a stable order."""
        ...

    def splits(self) -> list[str]:
        ...


def round_robin(tasks: list[Task], key: str, within=None) -> list[Task]:
    """Tasks interleaved by `metadata[key]` (groups in order of first appearance, each in its given
    order or stably sorted by `within`), so that any prefix (`--max-tasks M`) is a slice balanced
    over the groups rather than M tasks of the first one."""
    groups: dict[str, list[Task]] = {}
    for t in tasks:
        groups.setdefault(str(t.metadata[key]), []).append(t)
    if within is not None:
        groups = {k: sorted(g, key=within) for k, g in groups.items()}
    out: list[Task] = []
    for i in range(max((len(g) for g in groups.values()), default=0)):
        out.extend(g[i] for g in groups.values() if i < len(g))
    return out


def tasks_by_id(tasks: Iterable[Task]) -> dict[str, Task]:
    return {t.id: t for t in tasks}
