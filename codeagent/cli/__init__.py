"""`codeagent` command line. Each subcommand lives in its own module of this package, which
only parses arguments and calls the stage that does the work.

A command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module (imported lazily: `codeagent tasks list` must not load torch)
COMMANDS: dict[str, str] = {
    "sandbox": "codeagent.cli.sandbox",
    "tasks": "codeagent.cli.tasks",
    "eval": "codeagent.cli.eval",
    "run": "codeagent.cli.run",
    "verify": "codeagent.cli.verify",
    "export": "codeagent.cli.export",
    "train": "codeagent.cli.train",
    "improve": "codeagent.cli.improve",
    "compare": "codeagent.cli.compare",
    "report": "codeagent.cli.report",
    "sweep": "codeagent.cli.sweep",
}


def _help_line(module: str) -> str:
    try:
        return importlib.import_module(module).HELP
    except ModuleNotFoundError:
        return "(not available in this build)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codeagent", description=__import__("codeagent").__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        p = sub.add_parser(name, help=_help_line(module), description=_help_line(module),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError:
            continue
        mod.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_module", None):
        parser.print_help()
        return 2
    from .errors import report_errors
    with report_errors():
        return int(importlib.import_module(args._module).run(args) or 0)
    return 1


if __name__ == "__main__":  # python -m codeagent.cli
    sys.exit(main())
