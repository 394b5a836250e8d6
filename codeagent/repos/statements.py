"""Problem statements without a human, at three levels of localization.

1. names the function (and its file) and says a test of it fails;
2. names the module only;
3. describes the failing behaviour from the failing tests' assertion messages, never their source.

Held-out test source never appears in a statement: level 3 keeps only messages that share no
line of test source, and `leaks_test_source` is the check the tests (and the synthesizer) run.
"""

from __future__ import annotations

import hashlib
import re

LEVELS = (1, 2, 3)
MAX_MESSAGES = 3
MIN_LEAK_CHARS = 16
"""A statement may not contain any stripped test-source line at least this long."""


def level_for(task_id: str) -> int:
    """The level of a task: spread evenly over the set, fixed by the task id."""
    return LEVELS[int(hashlib.sha256(task_id.encode()).hexdigest(), 16) % len(LEVELS)]


_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def stable_message(message: str) -> str:
    """`message` without what changes from one process to the next: object addresses in reprs
    (`<function f at 0x7f3aba4b00e0>`), so a rebuilt set states its bugs the same way. (Set and
    dict reprs of strings still follow the process's hash seed; BENCHMARKS.md counts them.)"""
    return _ADDRESS.sub("0x…", message)


def statement(level: int, library: str, file: str, function: str, messages: list[str],
              test_sources: dict[str, str], hide: tuple[str, ...] = ()) -> str:
    """The statement of one bug. At level 3, a message that contains any string of `hide` (the
    failing tests' names: a repr of a class defined in a test names it) is left out too."""
    if level == 1:
        return (f"There is a bug in the `{library}` repository: `{function}` in `{file}` does not behave as "
                "documented, and a test that exercises it fails.\n\nFix the function. Do not change the tests.")
    if level == 2:
        return (f"There is a bug in the `{library}` repository, in the module `{file}`: some of the library's "
                "tests fail.\n\nFind the bug and fix it. Do not change the tests.")
    if level != 3:
        raise ValueError(f"unknown localization level {level}; known: {LEVELS}")
    seen, kept = set(), []
    for m in messages:
        # The first line only: pytest's assertion rewriting adds "where x = f(...)" lines that
        # quote the test's own expressions.
        m = " ".join((m.splitlines() or [""])[0].split())[:300]
        if m and m not in seen and not leaks_test_source(m, test_sources) and not any(h in m for h in hide):
            seen.add(m)
            kept.append(m)
        if len(kept) == MAX_MESSAGES:
            break
    observed = ("\n".join(f"- {m}" for m in kept) if kept
                else "- some results are wrong (the failing checks gave no message)")
    return (f"There is a bug in the `{library}` repository. Code that uses the library sees failures like "
            f"these:\n{observed}\n\nFind the bug and fix it. Do not change the tests.")


def leaks_test_source(text: str, test_sources: dict[str, str]) -> bool:
    """True when `text` contains a line of any test file (stripped, at least MIN_LEAK_CHARS long)."""
    flat = " ".join(text.split())
    for src in test_sources.values():
        for line in src.splitlines():
            line = " ".join(line.split())
            if len(line) >= MIN_LEAK_CHARS and line in flat:
                return True
    return False


def failing_test_names(node_ids: list[str]) -> tuple[str, ...]:
    """What a statement must not name: each test's module, class and function names."""
    out = set()
    for node in node_ids:
        path, *parts = node.split("::")
        out.add(path.rsplit("/", 1)[-1].removesuffix(".py"))
        out.update(p.split("[", 1)[0] for p in parts)
    return tuple(sorted(out))
