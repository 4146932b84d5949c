"""Inline SVG charts computed server-side: the report is one file that draws without any script or request.

Every text that can come from data is escaped here (markupsafe), and the result is `Markup` so the
template's autoescape leaves the finished SVG alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

FONT = "font-family:inherit;font-size:11px"


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str  # a class in the report's stylesheet (colour, dash)


def nice_max(v: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above v (a readable top for an axis)."""
    if v <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * base:
            return float(m * base)
    return float(10 * base)


def short(v: float) -> str:
    if abs(v) >= 1e8:
        return f"{v / 1e8:.1f}亿".replace(".0亿", "亿")
    if abs(v) >= 1e4:
        return f"{v / 1e4:.1f}万".replace(".0万", "万")
    return f"{v:,.0f}" if v == int(v) else f"{v:,.2f}"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" style="max-width:{width}px">'
        f"<title>{escape(title)}</title>"
    )
    return Markup(head + "".join(body) + "</svg>")


def _axis(
    width: int, height: int, pad: tuple[int, int, int, int], top: float, x_labels: Sequence[str]
) -> list[str]:
    left, right, t, b = pad
    ph = height - t - b
    out = []
    for i in range(5):
        y = t + ph - ph * i / 4
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" style="{FONT}" class="axis">'
            f"{escape(short(top * i / 4))}</text>"
        )
    step = (width - left - right) / max(len(x_labels), 1)
    for i, lab in enumerate(x_labels):
        x = left + step * (i + 0.5)
        out.append(
            f'<text x="{x:.1f}" y="{height - b + 16}" text-anchor="middle" style="{FONT}" class="axis">'
            f"{escape(lab)}</text>"
        )
    return out


def _legend(series: Sequence[Series], x: int, y: int) -> list[str]:
    out = []
    for s in series:
        out.append(f'<rect x="{x}" y="{y - 9}" width="12" height="10" class="{escape(s.css)} fill"/>')
        out.append(f'<text x="{x + 16}" y="{y}" style="{FONT}">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name) + 12 * sum(1 for ch in s.name if ord(ch) > 0x2E80)
    return out


def lines(
    title: str, x_labels: Sequence[str], series: Sequence[Series], width: int = 640, height: int = 240
) -> Markup:
    """One line per series over the same categories (e.g. Monday..Sunday of two weeks)."""
    pad = (48, 12, 28, 26)
    left, right, t, b = pad
    vals = [v for s in series for v in s.values if v is not None]
    top = nice_max(max(vals, default=0))
    pw, ph = width - left - right, height - t - b
    step = pw / max(len(x_labels), 1)
    body = _axis(width, height, pad, top, x_labels) + _legend(series, left, 14)
    for s in series:
        pts = [
            (left + step * (i + 0.5), t + ph - ph * v / top) for i, v in enumerate(s.values) if v is not None
        ]
        if not pts:
            continue
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(pts))
        body.append(f'<path d="{d}" class="{escape(s.css)} line"/>')
        for (x, y), v in zip(pts, [v for v in s.values if v is not None], strict=True):
            body.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="{escape(s.css)} fill">'
                f"<title>{escape(s.name)}: {escape(short(v))}</title></circle>"
            )
    return _svg(width, height, title, body)


def bars(
    title: str, x_labels: Sequence[str], series: Sequence[Series], width: int = 640, height: int = 240
) -> Markup:
    """Grouped vertical bars: one group per category, one bar per series."""
    pad = (48, 12, 28, 26)
    left, right, t, b = pad
    vals = [v for s in series for v in s.values if v is not None]
    top = nice_max(max(vals, default=0))
    pw, ph = width - left - right, height - t - b
    step = pw / max(len(x_labels), 1)
    bw = step * 0.8 / max(len(series), 1)
    body = _axis(width, height, pad, top, x_labels) + _legend(series, left, 14)
    for j, s in enumerate(series):
        for i, v in enumerate(s.values):
            if v is None:
                continue
            h = ph * v / top
            x = left + step * i + step * 0.1 + bw * j
            body.append(
                f'<rect x="{x:.1f}" y="{t + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                f'class="{escape(s.css)} fill"><title>{escape(x_labels[i])} · {escape(s.name)}: '
                f"{escape(short(v))}</title></rect>"
            )
    return _svg(width, height, title, body)


def diverging(title: str, rows: Sequence[tuple[str, float, str]], width: int = 800) -> Markup:
    """Horizontal bars from a zero line, left for decreases and right for increases: (label, change, text)
    per row. Columns: label | bars | text, so no text ever overlaps a bar."""
    bar_h, gap, label_w, text_w = 18, 6, 230, 240
    height = max(len(rows), 1) * (bar_h + gap) + gap
    neg = max((-c for _, c, _ in rows if c < 0), default=0.0)
    pos = max((c for _, c, _ in rows if c > 0), default=0.0)
    area = width - label_w - text_w
    zero = label_w + area * (neg / (neg + pos) if neg + pos else 0.5)
    scale = area / (neg + pos) if neg + pos else 0.0
    body = [f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{height}" class="grid"/>']
    for i, (label, change, text) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        w = abs(change) * scale
        x = zero if change >= 0 else zero - w
        cls = "up" if change >= 0 else "down"
        shown = label if len(label) <= 30 else label[:29] + "…"
        body.append(
            f'<text x="{label_w - 8}" y="{y + 13}" text-anchor="end" style="{FONT}">{escape(shown)}'
            f"<title>{escape(label)}</title></text>"
        )
        body.append(
            f'<rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" height="{bar_h}" class="{cls} fill"/>'
        )
        body.append(
            f'<text x="{width - 4}" y="{y + 13}" text-anchor="end" style="{FONT}">{escape(text)}</text>'
        )
    return _svg(width, height, title, body)
