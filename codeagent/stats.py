"""Small numeric helpers shared by every report: rates rounded the same way everywhere."""

from __future__ import annotations


def ratio(a: int | float, b: int | float, digits: int = 4) -> float | None:
    """a / b rounded, or None when b is 0 (a rate with nothing to count is unknown, not 0)."""
    return round(a / b, digits) if b else None


def rounded(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)
