"""`KEY=VALUE` command-line options (`run --agent-opt/--model-opt`, `improve --set`): one parser."""

from __future__ import annotations

import json

from codeagent.errors import UserError


def assignment(text: str, flag: str, example: str, *, form: str = "KEY=VALUE", as_json: bool = False,
               dotted: bool = False) -> tuple[str, object]:
    """(key, value) of `text`. as_json: the value read as JSON where it parses (else the string);
    dotted: the key must be STAGE.FIELD. A malformed one names `flag`, the `form` and an `example`."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or (dotted and "." not in key):
        raise UserError(f"{flag} {text!r}: expected {form}, e.g. {example}")
    if as_json:
        try:
            return key, json.loads(value)
        except ValueError:
            pass
    return key, value


def option_dict(items: list[str], flag: str, example: str, *, as_json: bool = False) -> dict:
    """Repeated `flag KEY=VALUE` options as a dict; `-` in keys read as `_` (field names)."""
    out = {}
    for item in items:
        key, value = assignment(item, flag, example, as_json=as_json)
        out[key.replace("-", "_")] = value
    return out
