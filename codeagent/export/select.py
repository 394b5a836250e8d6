"""Filters that shape the data: verdict acceptance, deduplication by normalized code, and a
per-task cap so that the tasks a model already finds easy do not dominate the set."""

from __future__ import annotations

import hashlib
from collections import Counter

from codeagent.codenorm import normalized_code
from codeagent.verify import accepts
from codeagent.verify.record import Verdict

from .base import Example
from .runs import selected_verifiers


def rejection(verdict: Verdict | None, selection: str) -> str | None:
    """Why the verifier(s) of `selection` do not count this attempt as a success (None: they do)."""
    if verdict is None:
        return "no-verdict"
    if verdict.hack_flags:
        return "hack-flagged:" + ",".join(sorted({h.hack_kind for h in verdict.hack_flags}))
    if not all(accepts(verdict, name) for name in selected_verifiers(selection)):
        return f"rejected-by-{selection}"
    return None


def dedup_key(example: Example) -> str:
    return example.task_id + "\0" + hashlib.sha256(normalized_code(example.code).encode()).hexdigest()


def dedupe_and_cap(examples: list[Example], max_per_task: int | None) -> tuple[list[Example], list[tuple[Example, str]]]:
    """Keep the first example of each (task, normalized code) and at most `max_per_task` per task
    (None: no cap), in input order. Returns (kept, [(dropped, reason)])."""
    kept, dropped = [], []
    first: dict[str, str] = {}
    per_task: Counter = Counter()
    for ex in examples:
        key = dedup_key(ex)
        if key in first:
            dropped.append((ex, f"duplicate-of:{first[key]}"))
            continue
        first[key] = ex.uid
        if max_per_task is not None and per_task[ex.task_id] >= max_per_task:
            dropped.append((ex, f"over-cap:{max_per_task}"))
            continue
        per_task[ex.task_id] += 1
        kept.append(ex)
    return kept, dropped
