"""Filters that shape the data: verdict acceptance, deduplication by normalized code, and a
per-task cap so that the tasks a model already finds easy do not dominate the set."""

from __future__ import annotations

import ast
import hashlib
import io
import re
import tokenize
from collections import Counter

from codeagent.verify.record import Verdict

from .base import Example


def rejection(verdict: Verdict | None, verifier: str) -> str | None:
    """Why `verifier` does not count this attempt as a success (None: it does)."""
    if verdict is None:
        return "no-verdict"
    if verdict.hack_flags:
        return "hack-flagged:" + ",".join(sorted({h.hack_kind for h in verdict.hack_flags}))
    if not verdict.accepted_by(verifier):
        return f"rejected-by-{verifier}"
    return None


def normalized_code(code: str) -> str:
    """The code up to formatting: its AST dump when it parses, else its text without comments and
    whitespace (so two solutions differing only in layout or comments are one)."""
    try:
        return "ast:" + ast.dump(ast.parse(code))
    except (SyntaxError, ValueError):
        pass
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(code).readline)
                  if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                    tokenize.INDENT, tokenize.DEDENT)]
        return "tok:" + " ".join(tokens)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        text = re.sub(r"#[^\n]*", "", code)
        return "txt:" + re.sub(r"\s+", "", text)


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
