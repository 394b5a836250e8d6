"""Agents: one protocol (`Agent`), implementations chosen by name.

- `rewrite`: single shot (plus optional feedback rounds on visible tests), for small models.
- `bash`: multi-turn, one shell command per turn in the task's sandbox, for strong models.
"""

from __future__ import annotations

import dataclasses
import importlib

from codeagent.errors import UserError, unknown_name

from .base import Agent, FormatError, LimitsExceeded, Submitted

# name -> "module:class"; imported only when asked for.
AGENTS: dict[str, str] = {
    "rewrite": "codeagent.agents.rewrite:RewriteAgent",
    "bash": "codeagent.agents.bash:BashAgent",
}


def make_agent(name: str, **options) -> Agent:
    """The agent registered as `name`; `options` override fields of its config dataclass
    (strings, as a command line gives them, are converted to the field's type)."""
    if name not in AGENTS:
        raise unknown_name("agent", name, AGENTS)
    module, _, attr = AGENTS[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    fields = {f.name: f for f in dataclasses.fields(cls.config_class)}
    for key, value in list(options.items()):
        if key not in fields:
            raise unknown_name(f"option of agent {name!r}:", key, fields)
        options[key] = _convert(name, key, value, fields[key].default)
    return cls(**options)


def _convert(agent: str, key: str, value, default):
    if not isinstance(value, str) or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(default, tuple):
            return tuple(value.split(","))
        return type(default)(value)
    except ValueError:
        raise UserError(f"option {key} of agent {agent!r} must be of type {type(default).__name__}, got {value!r}") from None


__all__ = ["AGENTS", "Agent", "FormatError", "LimitsExceeded", "Submitted", "make_agent"]
