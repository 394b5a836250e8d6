"""Plain data across the judge/candidate boundary. Stdlib only (runs inside the sandbox).

`encode` turns a value into JSON text; `decode` rebuilds it. Only exact builtin types cross:
None, bool, int, float, complex, str, bytes, list, tuple, dict, set, frozenset. Anything else,
a subclass of one of those included, raises `NotPlain`, so an object that lies about equality
(an `__eq__` that always says yes, an `int` subclass) can never reach the trusted judge.

`decode` is the only half the judge relies on: it is pure Python over `json.loads`, builds
nothing but those exact types, and bounds depth and size, so the bytes a candidate process
writes can at worst be wrong data (or a protocol error), never an object of its choosing.
"""

import json

MAX_DEPTH = 64
MAX_ITEMS = 1_000_000


class NotPlain(Exception):
    """A value that is not plain data (or too deep/large to be judged as such)."""


_SCALARS = {type(None): "n", bool: "b", int: "i", float: "f", str: "s", bytes: "y", complex: "c"}
_CONTAINERS = {list: "l", tuple: "t", set: "S", frozenset: "F", dict: "d"}


def _enc(x, depth, budget):
    t = type(x)
    budget[0] -= 1
    if budget[0] < 0:
        raise NotPlain(f"more than {MAX_ITEMS} values")
    if t in _SCALARS:
        tag = _SCALARS[t]
        if tag == "i":
            return ["i", hex(x)]  # hex: no int-to-str digit limit, exact for any size
        if tag == "f":
            return ["f", x.hex()]
        if tag == "c":
            return ["c", x.real.hex(), x.imag.hex()]
        if tag == "y":
            return ["y", x.hex()]
        return [tag, x]
    if t in _CONTAINERS:
        if depth >= MAX_DEPTH:
            raise NotPlain(f"nested deeper than {MAX_DEPTH}")
        if t is dict:
            return ["d", [[_enc(k, depth + 1, budget), _enc(v, depth + 1, budget)] for k, v in x.items()]]
        return [_CONTAINERS[t], [_enc(v, depth + 1, budget) for v in x]]
    raise NotPlain(describe(x))


def encode(x) -> str:
    return json.dumps(_enc(x, 0, [MAX_ITEMS]), separators=(",", ":"))


def describe(x) -> str:
    """What a non-plain value is, for the failure message (read in the candidate's process)."""
    t = type(x)
    name = getattr(t, "__qualname__", "?")
    plain_base = next((b.__name__ for b in getattr(t, "__mro__", ())[1:] if b in _SCALARS or b in _CONTAINERS), None)
    lies = sorted(n for c in getattr(t, "__mro__", ())[:-1] if c not in _SCALARS and c not in _CONTAINERS
                  for n in ("__eq__", "__ne__", "__hash__", "__sub__", "__abs__", "__lt__", "__gt__")
                  if n in vars(c))
    what = f"a {name}" + (f" (subclass of {plain_base})" if plain_base else "")
    return what + (f" redefining {', '.join(lies)}" if lies else "")


def _dec(v, depth):
    if type(v) is not list or not v or type(v[0]) is not str:
        raise ValueError("malformed value")
    tag = v[0]
    if depth > MAX_DEPTH + 1:
        raise ValueError("too deep")
    if tag == "n":
        return None
    if tag == "b" and type(v[1]) is bool:
        return v[1]
    if tag == "i":
        return int(v[1], 16)
    if tag == "f":
        return float.fromhex(v[1])
    if tag == "c":
        return complex(float.fromhex(v[1]), float.fromhex(v[2]))
    if tag == "s" and type(v[1]) is str:
        return v[1]
    if tag == "y":
        return bytes.fromhex(v[1])
    if tag == "d" and type(v[1]) is list:
        return {_dec(k, depth + 1): _dec(x, depth + 1) for k, x in v[1]}
    if tag in ("l", "t", "S", "F") and type(v[1]) is list:
        items = [_dec(x, depth + 1) for x in v[1]]
        return {"l": list, "t": tuple, "S": set, "F": frozenset}[tag](items)
    raise ValueError(f"unknown tag {tag!r}")


def decode_value(v):
    """`decode` for an already parsed JSON value."""
    try:
        return _dec(v, 0)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001
        raise ValueError(f"{type(e).__name__}: {e}") from None


def decode(text: str):
    """The plain value of `encode`'s output; ValueError (never anything else) on bad input."""
    try:
        return _dec(json.loads(text), 0)
    except ValueError:
        raise
    except Exception as e:  # noqa: BLE001 — TypeError, RecursionError, ...: all mean "bad bytes"
        raise ValueError(f"{type(e).__name__}: {e}") from None
