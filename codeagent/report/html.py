"""The page shell and the few HTML helpers every report page uses.

Everything that comes from a run (model replies, patches, test names, task text) is untrusted: it
reaches the page only through `esc`, so `<script>` or `</textarea>` in a reply is shown as text.
Markup this package builds itself is wrapped in `Html`; the helpers escape every other value.
As a second line, the page's Content-Security-Policy runs only the one script carrying this
page's nonce and loads nothing from anywhere (`default-src 'none'`): a report makes no request.
"""

from __future__ import annotations

import html
import secrets
from typing import Iterable, Mapping


class Html(str):
    """Markup built by this package (never text from a run). `Html + x` and `x + Html` escape x
    unless it is Html too, so concatenation cannot smuggle text in as markup (build markup from
    plain strings with `Html("".join(...))`)."""

    def __add__(self, other) -> "Html":
        return Html(str.__add__(self, cell(other)))

    def __radd__(self, other) -> "Html":
        return Html(str.__add__(cell(other), self))


def esc(value) -> Html:
    """`value` as text: the only way untrusted text enters a page."""
    return Html(html.escape("" if value is None else str(value), quote=True))


def cell(value) -> Html:
    return value if isinstance(value, Html) else esc(value)


def attrs(values: Mapping[str, object]) -> Html:
    return Html("".join(f' {esc(k)}="{esc(v)}"' for k, v in values.items() if v is not None))


def tag(name: str, body="", **attributes) -> Html:
    """`<name attributes>body</name>`; `class_` is `class`, `data_x` is `data-x`."""
    names = {k.rstrip("_").replace("_", "-"): v for k, v in attributes.items()}
    return Html(f"<{name}{attrs(names)}>{cell(body)}</{name}>")


def join(parts: Iterable) -> Html:
    return Html("".join(cell(p) for p in parts))


def table(head: list, rows: Iterable[list], *, row_attrs: Iterable[Mapping] | None = None,
          after: Iterable[Html] | None = None, **attributes) -> Html:
    """A table; `row_attrs` gives each body row's attributes (e.g. data-* for the filters), `after`
    markup (a detail row) to put right after each body row."""
    rows = list(rows)
    extra = list(row_attrs) if row_attrs is not None else [{}] * len(rows)
    tails = list(after) if after is not None else [Html("")] * len(rows)
    thead = tag("thead", tag("tr", join(tag("th", h) for h in head)))
    body = join(Html("".join([f"<tr{attrs(a)}>", join(tag("td", c) for c in r), "</tr>", t]))
                for r, a, t in zip(rows, extra, tails))
    return tag("table", join([thead, tag("tbody", body)]), **attributes)


def section(title: str, *body, id: str | None = None, note: str | None = None) -> Html:
    parts = [tag("h2", title)] + ([tag("p", note, class_="note")] if note else []) + list(body)
    return tag("section", join(parts), id=id)


def pre(text, **attributes) -> Html:
    return tag("pre", text, **attributes)


def badge(text, kind: str) -> Html:
    """A coloured label; kind is one of ok, bad, warn, info, muted."""
    return tag("span", text, class_=f"badge {kind}")


CSS = """
:root { --ok:#1a7f37; --ok-bg:#dafbe1; --bad:#cf222e; --bad-bg:#ffebe9; --warn:#9a6700; --warn-bg:#fff8c5;
        --info:#0550ae; --info-bg:#ddf4ff; --muted:#57606a; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #1f2328; background: #f6f8fa; }
main { max-width: 1280px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 12px 0 4px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin: 14px 0; }
.note, .sub { color: var(--muted); margin: 2px 0 8px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
pre { background: #f6f8fa; border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; margin: 4px 0;
      white-space: pre-wrap; word-break: break-word; font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
.badge { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 12px; white-space: nowrap; }
.ok { color: var(--ok); background: var(--ok-bg); } .bad { color: var(--bad); background: var(--bad-bg); }
.warn { color: var(--warn); background: var(--warn-bg); } .info { color: var(--info); background: var(--info-bg); }
.muted { color: var(--muted); background: #eaeef2; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 150px; }
.card .v { font-size: 22px; font-weight: 600; } .card .k { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
svg text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: #1f2328; }
.matrix td { text-align: center; padding: 1px 6px; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.matrix td:first-child { text-align: left; }
.diff .add { color: var(--ok); background: var(--ok-bg); display: block; }
.diff .del { color: var(--bad); background: var(--bad-bg); display: block; }
.diff .hunk { color: var(--info); display: block; } .diff .meta { color: var(--muted); display: block; }
.msg { margin: 6px 0; } .msg .role { font-weight: 600; text-transform: uppercase; font-size: 11px; color: var(--muted); }
.filters { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 6px 0 10px; }
.filters label { color: var(--muted); } input, select, button { font: inherit; }
tr.detail > td { background: #fbfcfd; padding: 8px 14px 14px; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
@media (max-width: 900px) { .cols { grid-template-columns: 1fr; } }
"""

JS = """
(function () {
  const rows = Array.from(document.querySelectorAll('tr[data-attempt]'));
  const filters = Array.from(document.querySelectorAll('[data-filter]'));
  const shown = document.getElementById('shown-count');
  function apply() {
    let n = 0;
    for (const tr of rows) {
      let ok = true;
      for (const f of filters) {
        const want = f.value.trim().toLowerCase(), have = (tr.dataset[f.dataset.filter] || '').toLowerCase();
        if (want && (f.tagName === 'INPUT' ? !have.includes(want) : have !== want)) { ok = false; break; }
      }
      tr.hidden = !ok;
      if (!ok) document.getElementById(tr.dataset.detail).hidden = true;
      n += ok;
    }
    if (shown) shown.textContent = String(n);
  }
  filters.forEach(f => f.addEventListener('input', apply));
  document.querySelectorAll('button[data-toggle]').forEach(b => b.addEventListener('click', () => {
    const d = document.getElementById(b.dataset.toggle);
    d.hidden = !d.hidden;
    b.textContent = d.hidden ? 'show' : 'hide';
  }));
  apply();
})();
"""


def page(title: str, subtitle, *sections) -> str:
    """A whole self-contained page: inline CSS and script, no external resource."""
    nonce = secrets.token_urlsafe(18)
    policy = f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'nonce-{nonce}'"
    body = join([tag("h1", title), tag("p", subtitle, class_="sub"), *sections])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
            f"<body><main>{body}</main><script nonce=\"{nonce}\">{JS}</script></body></html>\n")


def cards(items: Iterable[tuple[str, object]]) -> Html:
    """Headline figures: (label, value) pairs."""
    return tag("div", join(tag("div", join([tag("div", v, class_="v"), tag("div", k, class_="k")]), class_="card")
                           for k, v in items), class_="cards")


def fmt(x, digits: int = 3) -> str:
    if x is None:
        return "-"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)
