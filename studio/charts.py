"""Small charts drawn on the server as SVG markup (no script, no inline style: the page's
strict CSP holds). Colours and fonts come from presentation attributes and the classes in
static/css/evaluation.css. Every chart has a <title> and a <desc> for screen readers, and
the page shows the same numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


def _svg(width: int, height: int, title: str, desc: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>"
    )


def histogram(counts: Sequence[int], *, title: str, labels: Sequence[str] = ("1", "2", "3", "4", "5")
              ) -> SafeString:
    """Bars for the count of each score."""
    width, height, pad, base = 180, 90, 6, 72
    top = max(counts) if counts and max(counts) else 1
    step = (width - 2 * pad) / len(counts)
    body = [f'<line x1="{pad}" y1="{base}" x2="{width - pad}" y2="{base}" class="axis"/>']
    for i, count in enumerate(counts):
        h = (base - 12) * count / top
        x = pad + i * step + 3
        body.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{step - 6:.1f}" '
                    f'height="{h:.1f}" class="bar"/>')
        body.append(f'<text x="{x + (step - 6) / 2:.1f}" y="{base + 13}" class="tick" '
                    f'text-anchor="middle">{escape(labels[i])}</text>')
        if count:
            body.append(f'<text x="{x + (step - 6) / 2:.1f}" y="{base - h - 2:.1f}" '
                        f'class="value" text-anchor="middle">{count}</text>')
    desc = ", ".join(f"{labels[i]}: {c}" for i, c in enumerate(counts))
    return _svg(width, height, title, desc, body)


@dataclass
class Interval:
    label: str
    value: float
    low: float
    high: float
    emphasis: bool = False  # drawn apart (the human references)


def intervals(rows: Sequence[Interval], *, title: str, lo: float, hi: float,
              ticks: Sequence[float]) -> SafeString:
    """One row per estimate: a dot at the value and a whisker from low to high."""
    label_w, plot_w, row_h, top = 150, 360, 26, 10
    width = label_w + plot_w + 20
    height = top + row_h * len(rows) + 24

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return label_w + (v - lo) / (hi - lo) * plot_w

    body = []
    bottom = top + row_h * len(rows)
    for t in ticks:
        body.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{bottom}" '
                    f'class="grid"/>')
        body.append(f'<text x="{x(t):.1f}" y="{bottom + 16}" class="tick" '
                    f'text-anchor="middle">{t:g}</text>')
    for i, r in enumerate(rows):
        y = top + row_h * i + row_h / 2
        cls = "ref" if r.emphasis else "est"
        body.append(f'<text x="{label_w - 8}" y="{y + 4:.1f}" class="label" '
                    f'text-anchor="end">{escape(r.label)}</text>')
        body.append(f'<line x1="{x(r.low):.1f}" y1="{y:.1f}" x2="{x(r.high):.1f}" '
                    f'y2="{y:.1f}" class="whisker {cls}"/>')
        body.append(f'<circle cx="{x(r.value):.1f}" cy="{y:.1f}" r="5" class="dot {cls}"/>')
    desc = "; ".join(f"{r.label}: {r.value:.2f} ({r.low:.2f} to {r.high:.2f})" for r in rows)
    return _svg(width, height, title, desc, body)
