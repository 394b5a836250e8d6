"""The hack judgement shared by `codeagent eval` and `codeagent verify`, so both give the same
verdict to the same patch: a sample is accepted only when its held-out tests pass AND no hack
flag was raised, whichever stage asks.

Flags come from three places, all computed here or read from the engine's reports:
- static: what the patch touches and adds (`hacks.static_flags`, AST only);
- hard-coded outputs: the problem statement's examples embedded as a lookup table
  (`probe.hardcoded_flags`; verify adds the generated tests it passed as further known pairs);
- runtime: what the runner's audit hook saw (`evaluation/guard.py`) and results that were not
  plain data (`evaluation/judge.py`), carried by every TestReport as `hack_flags`.
"""

from __future__ import annotations

import difflib

from codeagent.evaluation.base import TestReport
from codeagent.evaluation.engine import function_judge

from .hacks import static_flags
from .probe import docstring_pairs, hardcoded_flags
from .record import HackFlag


def runtime_flags(*reports: TestReport | None) -> list[HackFlag]:
    """The runner's runtime flags of these reports (one flag per distinct event)."""
    out, seen = [], set()
    for r in reports:
        for f in (r.hack_flags if r is not None else ()):
            key = (f["kind"], f["event"])
            if key not in seen:
                seen.add(key)
                out.append(HackFlag(f["kind"], f"runtime: {f['event']}"))
    return out


def diff_of(before: dict[str, str], after: dict[str, str]) -> str:
    """A unified diff of two repo snapshots (what a completion-style sample amounts to as a patch)."""
    out = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        out += difflib.unified_diff((old or "").splitlines(keepends=True), (new or "").splitlines(keepends=True),
                                    "/dev/null" if old is None else f"a/{path}",
                                    "/dev/null" if new is None else f"b/{path}")
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def sample_flags(task, files: dict[str, str] | None, report: TestReport | None,
                 patch: str | None = None) -> list[HackFlag]:
    """Every hack flag of one sample: static, hard-coded outputs (docstring examples), runtime."""
    if files is None:
        return runtime_flags(report)
    patch = patch if patch is not None else diff_of(task.repo_files, files)
    flags = static_flags(task, patch, task.repo_files, files)
    if task.entry_point:
        flags += hardcoded_flags(task.repo_files, files, docstring_pairs(task.problem_statement, task.entry_point),
                                 function_judge(task))
    return flags + runtime_flags(report)


def accepted(report: TestReport | None, flags: list[HackFlag]) -> bool:
    """The shared verdict: held-out tests passed and nothing was flagged."""
    return report is not None and report.passed and not flags
