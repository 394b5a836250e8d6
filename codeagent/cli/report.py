"""codeagent report: a run folder or an improve-loop folder as one self-contained HTML page."""

from pathlib import Path

HELP = "write one self-contained HTML page (no server, no network) for a run folder or an improve loop folder"


def add_arguments(p) -> None:
    p.add_argument("path", type=Path, metavar="PATH", help="the --out folder of `codeagent run` or `codeagent improve`")
    p.add_argument("--out", type=Path, help="the HTML file to write (default PATH/report.html)")


def run(args) -> int:
    from codeagent.report import write_report
    path = write_report(args.path, args.out)
    print(f"report: {path}  (open file://{path.resolve()} in a browser)")
    return 0
