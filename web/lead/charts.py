"""Plots drawn on the server as inline SVG: no JS, no build step, nothing the strict CSP
blocks (presentation attributes, no style attributes). Every text is escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

W, H, PAD = 640, 220, 36


def _frame(title: str, body: list[str]) -> Markup:
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {W} {H}" width="{W}" height="{H}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 8}" y2="{H - PAD}" stroke="#888"/>',
        f'<line x1="{PAD}" y1="8" x2="{PAD}" y2="{H - PAD}" stroke="#888"/>',
        *body,
        "</svg>",
    ]
    return Markup("".join(parts))  # noqa: S704 - built here from numbers and escaped text


def _text(x: float, y: float, text: object, anchor: str = "middle") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="10" text-anchor="{anchor}" '
            f'fill="#444">{escape(str(text))}</text>')


def progress_chart(rows: Sequence[Sequence[object]]) -> Markup:
    """Running total of submissions per day (rows: day, submitted, total)."""
    if not rows:
        return Markup("")
    top = max(int(str(r[2])) for r in rows) or 1
    step = (W - PAD - 16) / max(len(rows) - 1, 1)
    points = [(PAD + i * step, H - PAD - (int(str(r[2])) / top) * (H - PAD - 16))
              for i, r in enumerate(rows)]
    body = ['<polyline fill="none" stroke="#2a6fdb" stroke-width="2" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>']
    body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#2a6fdb"/>' for x, y in points]
    body.append(_text(PAD - 4, 16, top, "end"))
    body.append(_text(PAD - 4, H - PAD, 0, "end"))
    body.append(_text(PAD, H - PAD + 14, rows[0][0], "start"))
    if len(rows) > 1:
        body.append(_text(W - 8, H - PAD + 14, rows[-1][0], "end"))
    return _frame("Annotations submitted, running total by day", body)


def histogram_chart(bins: Sequence[tuple[float, float, int]], title: str) -> Markup:
    """Bars of (from, to, count)."""
    if not bins or not any(c for _a, _b, c in bins):
        return Markup("")
    top = max(c for _a, _b, c in bins)
    width = (W - PAD - 16) / len(bins)
    body = []
    for i, (lo, _hi, count) in enumerate(bins):
        height = count / top * (H - PAD - 16)
        x = PAD + i * width
        body.append(f'<rect x="{x + 2:.1f}" y="{H - PAD - height:.1f}" width="{width - 4:.1f}" '
                    f'height="{height:.1f}" fill="#3c9d5d"><title>{lo:.1f}: {count}</title></rect>')
        body.append(_text(x + width / 2, H - PAD + 14, f"{lo:.1f}"))
        if count:
            body.append(_text(x + width / 2, H - PAD - height - 3, count))
    return _frame(title, body)
