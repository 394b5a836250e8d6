"""Inline SVG charts for report pages: no plotting library, no image files, text stays text.

Each data point carries a `<title>` with its exact value (the browser shows it on hover)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .html import Html, esc

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]
    intervals: list[tuple[float, float, float]] = field(default_factory=list)
    """(x, low, high) error bars, e.g. a confidence interval at each point."""
    dashed: bool = False


def line_chart(series: list[Series], *, title: str, x_label: str, y_label: str, x_ticks: list[int],
               y_max: float = 1.0, width: int = 560, height: int = 280) -> Html:
    left, right, top, bottom = 48, 16, 28, 40
    legend_h = 16 * len(series)
    w, h = width - left - right, height - top - bottom
    x_lo, x_hi = (min(x_ticks), max(x_ticks)) if x_ticks else (0, 1)
    span = (x_hi - x_lo) or 1

    def X(x: float) -> float:
        return left + (x - x_lo) / span * w if x_hi > x_lo else left + w / 2

    def Y(y: float) -> float:
        return top + h - min(max(y, 0.0), y_max) / y_max * h

    out = [f'<text x="{left}" y="16" style="font-weight:600">{esc(title)}</text>']
    for k in range(6):  # horizontal grid and y labels
        y = y_max * k / 5
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{Y(y):.1f}" y2="{Y(y):.1f}" stroke="#e5e7eb"/>'
                   f'<text x="{left - 6}" y="{Y(y) + 4:.1f}" text-anchor="end">{y:.2g}</text>')
    for x in x_ticks:
        out.append(f'<line x1="{X(x):.1f}" x2="{X(x):.1f}" y1="{top + h}" y2="{top + h + 4}" stroke="#555"/>'
                   f'<text x="{X(x):.1f}" y="{top + h + 16}" text-anchor="middle">{x}</text>')
    out.append(f'<line x1="{left}" x2="{left + w}" y1="{top + h}" y2="{top + h}" stroke="#555"/>'
               f'<text x="{left + w / 2}" y="{height - 6}" text-anchor="middle">{esc(x_label)}</text>'
               f'<text transform="translate(12,{top + h / 2}) rotate(-90)" text-anchor="middle">{esc(y_label)}</text>')
    for s, colour in zip(series, PALETTE * 4):
        for x, lo, hi in s.intervals:
            out.append(f'<line x1="{X(x):.1f}" x2="{X(x):.1f}" y1="{Y(lo):.1f}" y2="{Y(hi):.1f}" stroke="{colour}" '
                       f'stroke-width="1.5" opacity="0.55"><title>{esc(s.label)} at {x}: [{lo:.3f}, {hi:.3f}]</title></line>')
            for y in (lo, hi):
                out.append(f'<line x1="{X(x) - 4:.1f}" x2="{X(x) + 4:.1f}" y1="{Y(y):.1f}" y2="{Y(y):.1f}" '
                           f'stroke="{colour}" opacity="0.55"/>')
        if len(s.points) > 1:
            path = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in s.points)
            dash = ' stroke-dasharray="5,4"' if s.dashed else ""
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y in s.points:
            out.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="3.5" fill="{colour}">'
                       f'<title>{esc(s.label)} at {x}: {y:.3f}</title></circle>')
    legend = []
    for i, (s, colour) in enumerate(zip(series, PALETTE * 4)):
        y = height + 12 + 16 * i
        dash = ' stroke-dasharray="5,4"' if s.dashed else ""
        legend.append(f'<line x1="{left}" x2="{left + 22}" y1="{y - 4}" y2="{y - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
                      f'<text x="{left + 28}" y="{y}">{esc(s.label)}</text>')
    return Html(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + legend_h + 8}" '
                f'role="img" aria-label="{esc(title)}">' + "".join(out + legend) + "</svg>")


def stacked_bars(rows: list[tuple[str, dict[str, float]]], *, title: str, unit: str = "s", width: int = 600) -> Html:
    """One horizontal bar per row, split into its named parts (e.g. stage wall times)."""
    names = list(dict.fromkeys(k for _, parts in rows for k in parts))
    colours = dict(zip(names, PALETTE * 4))
    left, right, bar_h, gap, top = 90, 70, 18, 8, 28
    total_max = max((sum(p.values()) for _, p in rows), default=0.0) or 1.0
    w = width - left - right
    out = [f'<text x="{left}" y="16" style="font-weight:600">{esc(title)}</text>']
    for i, (label, parts) in enumerate(rows):
        y, x = top + i * (bar_h + gap), float(left)
        out.append(f'<text x="{left - 6}" y="{y + bar_h - 5}" text-anchor="end">{esc(label)}</text>')
        for name, value in parts.items():
            bw = value / total_max * w
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{max(bw, 0):.1f}" height="{bar_h}" fill="{colours[name]}">'
                       f'<title>{esc(label)} {esc(name)}: {value:.0f} {unit}</title></rect>')
            x += bw
        out.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 5}">{sum(parts.values()):.0f} {unit}</text>')
    y = top + len(rows) * (bar_h + gap) + 8
    x = left
    for name in names:
        out.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colours[name]}"/>'
                   f'<text x="{x + 16}" y="{y + 10}">{esc(name)}</text>')
        x += 24 + 7 * len(name)
    return Html(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 22}" role="img" '
                f'aria-label="{esc(title)}">' + "".join(out) + "</svg>")
