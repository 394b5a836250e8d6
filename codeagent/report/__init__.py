"""`codeagent report`: one self-contained HTML page for a run folder or an improve-loop folder.

Each page kind is one module with `render(folder) -> str`; `PAGES` maps the kind to it (imported
lazily) and `page_kind` tells which kind a folder is. The page has no server and makes no
request: CSS, script and charts (SVG) are inline.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from codeagent.errors import UserError, unknown_name

REPORT_FILE = "report.html"

PAGES: dict[str, str] = {
    "loop": "codeagent.report.loop:render",
    "run": "codeagent.report.run:render",
}


def page_kind(folder: Path) -> str:
    """`loop` for a `codeagent improve --out` folder, `run` for a `codeagent run --out` folder."""
    from codeagent.improve.layout import CONFIG_FILE as LOOP_CONFIG
    from codeagent.run import CONFIG_FILE as RUN_CONFIG
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; pass a `codeagent run --out` or `codeagent improve --out` folder")
    if (folder / LOOP_CONFIG).is_file():
        return "loop"
    if (folder / RUN_CONFIG).is_file():
        return "run"
    raise UserError(f"{folder}: neither a run folder (no {RUN_CONFIG}) nor an improve-loop folder (no {LOOP_CONFIG}); "
                    "pass the --out folder of `codeagent run` or `codeagent improve`")


def render(folder: Path, kind: str | None = None) -> str:
    kind = kind or page_kind(folder)
    if kind not in PAGES:
        raise unknown_name("report page", kind, PAGES)
    module, _, attr = PAGES[kind].partition(":")
    return getattr(importlib.import_module(module), attr)(Path(folder))


def write_report(folder: Path, out: Path | None = None) -> Path:
    """Write the page of `folder` to `out` (default FOLDER/report.html), atomically; returns its path."""
    out = Path(out) if out is not None else Path(folder) / REPORT_FILE
    text = render(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    return out
