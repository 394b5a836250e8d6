"""The base of every error meant for a person (bad input, missing daemon, unknown name).

The CLI prints these as one line without a traceback; everything else is a bug and shows one.
"""


class UserError(Exception):
    """A problem the user can fix; the message names the file/line/field and what to do."""


def unknown_name(kind: str, name: str, known) -> UserError:
    return UserError(f"unknown {kind} {name!r}; known: {', '.join(sorted(known))}")
