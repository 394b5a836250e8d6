"""Decontamination against the evaluation splits the loop reports on.

Two rules: an attempt whose task *is* an evaluation task is never exported, and an example whose
prompt shares a long n-gram (default 13 word tokens, lower-cased, as in the GPT-3 paper's
contamination study) with any evaluation task's prompt is dropped — that catches near-copies of
an evaluation problem living under another id or in another task set.
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

    def __init__(self, splits: list[EvalSplit], n: int = 13):
        if n < 1:
            raise ExportError(f"--ngram must be at least 1, got {n}")
        self.splits, self.n = list(splits), n
        self.task_ids: dict[str, str] = {}
        """eval task id -> the split it comes from."""
        self._owner: dict[tuple[str, ...], str] = {}
        for split in self.splits:
            for task in _tasks(split):
                self.task_ids.setdefault(task.id, str(split))
                for gram in ngrams(task.problem_statement, n):
                    self._owner.setdefault(gram, task.id)

    def in_eval_split(self, task_id: str) -> str | None:
        where = self.task_ids.get(task_id)
        return f"eval-split:{where}" if where else None

    def overlap(self, prompt: str) -> str | None:
        for gram in ngrams(prompt, self.n):
            owner = self._owner.get(gram)
            if owner is not None:
                return f"ngram-overlap:{owner}:{' '.join(gram)}"
        return None


def _tasks(split: EvalSplit) -> list[Task]:
    try:
        ts = load_task_set(split.task_set)
        if split.split is not None and split.split not in ts.splits():
            raise ExportError(f"--eval-set {split}: task set {ts.name!r} has no split {split.split!r}; "
                              f"it has {', '.join(ts.splits())}")
        return ts.tasks(split.split)
    except TaskSetError as e:
        raise ExportError(f"--eval-set {split}: {e}") from None
