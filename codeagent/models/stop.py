"""Stop strings, shared by every backend: the text ends before the first one."""

from __future__ import annotations

from typing import Sequence


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to (not including) the earliest occurrence of any of `stop`."""
    found = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    return text[:min(found)] if found else text
