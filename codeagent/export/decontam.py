"""Decontamination against the evaluation splits the loop reports on.

Rules: an attempt whose task *is* an evaluation task is never exported; for repository tasks,
neither is one whose source function (metadata source + file + function) is the source function
of any evaluation task (another bug in the same function teaches its fix), nor any task of a
library an evaluation split holds out whole (metadata `heldout: library`), so that generalisation
to unseen functions and unseen code is measured on code no training example came from; and an
example whose prompt shares a long n-gram (default 13 word tokens, lower-cased, as in the GPT-3
paper's contamination study) with any evaluation task's prompt is dropped — that catches
near-copies of an evaluation problem living under another id or in another task set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codeagent.tasks import TaskSetError, load_task_set
from codeagent.tasks.base import Task

from .base import ExportError

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class EvalSplit:
    task_set: str
    split: str | None
    """None: every split of the set."""

    def __str__(self) -> str:
        return f"{self.task_set}:{self.split}" if self.split else self.task_set

    @classmethod
    def parse(cls, text: str) -> "EvalSplit":
        """`SET[:SPLIT]`, e.g. `pyfuncs:test` or `humaneval`."""
        name, _, split = text.partition(":")
        if not name:
            raise ExportError(f"--eval-set {text!r}: expected SET[:SPLIT], e.g. pyfuncs:test")
        return cls(name, split or None)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    toks = words(text)
    return {tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)}


class Decontaminator:
    """Knows the evaluation tasks; says why an example must not be exported (None: it may)."""

    def __init__(self, splits: list[EvalSplit], n: int = 13, tasks: dict[EvalSplit, list[Task]] | None = None):
        """tasks: each split's tasks when the caller has them (else each split's set is loaded)."""
        if n < 1:
            raise ExportError(f"--ngram must be at least 1, got {n}")
        self.splits, self.n = list(splits), n
        self.task_ids: dict[str, str] = {}
        """eval task id -> the split it comes from."""
        self.functions: dict[tuple[str, str, str], str] = {}
        """(source, file, function) of an eval repository task -> that task's id."""
        self.libraries: dict[str, str] = {}
        """a library an eval split holds out whole -> that split."""
        self._owner: dict[tuple[str, ...], str] = {}
        for split in self.splits:
            for task in (tasks[split] if tasks is not None else _tasks(split)):
                self.task_ids.setdefault(task.id, str(split))
                key = source_function(task)
                if key is not None:
                    self.functions.setdefault(key, task.id)
                if task.is_repository_task and task.metadata.get("heldout") == "library" \
                        and task.metadata.get("source"):
                    self.libraries.setdefault(str(task.metadata["source"]), str(split))
                for gram in ngrams(task.problem_statement, n):
                    self._owner.setdefault(gram, task.id)

    def in_eval_split(self, task_id: str) -> str | None:
        where = self.task_ids.get(task_id)
        return f"eval-split:{where}" if where else None

    def shares_source(self, task: Task) -> str | None:
        """Why a repository task's code is evaluation code: its function is an eval task's source
        function, or its library is held out (None: neither, or not a repository task)."""
        if not task.is_repository_task:
            return None
        library = task.metadata.get("source")
        if library is not None and str(library) in self.libraries:
            return f"heldout-library:{library}:{self.libraries[str(library)]}"
        key = source_function(task)
        owner = self.functions.get(key) if key is not None else None
        return f"eval-function:{':'.join(key)}:{owner}" if owner else None

    def overlap(self, prompt: str) -> str | None:
        for gram in ngrams(prompt, self.n):
            owner = self._owner.get(gram)
            if owner is not None:
                return f"ngram-overlap:{owner}:{' '.join(gram)}"
        return None


def source_function(task: Task) -> tuple[str, str, str] | None:
    """(source, file, function) a repository task's bug lives in; None for other tasks."""
    m = task.metadata
    if not task.is_repository_task or not all(m.get(k) for k in ("source", "file", "function")):
        return None
    return str(m["source"]), str(m["file"]), str(m["function"])


def _tasks(split: EvalSplit) -> list[Task]:
    try:
        ts = load_task_set(split.task_set)
        if split.split is not None and split.split not in ts.splits():
            raise ExportError(f"--eval-set {split}: task set {ts.name!r} has no split {split.split!r}; "
                              f"it has {', '.join(ts.splits())}")
        return ts.tasks(split.split)
    except TaskSetError as e:
        raise ExportError(f"--eval-set {split}: {e}") from None
