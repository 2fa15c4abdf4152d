"""Pictures for the case page, drawn as plain SVG on the server (no script, prints as is).

Deterministic: the same analysis draws the same bytes, so an exported report can be hashed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from markupsafe import Markup, escape

from collusion import graph

RED = "#b3261e"
BLUE = "#1f4e8c"
GREY = "#8a94a3"


def _num(value: Any) -> float | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return float(number) if number.is_finite() else None


def _svg(parts: list[str]) -> Markup:
    """The drawing as markup. Every text in ``parts`` went through ``escape`` and every
    number through a format spec, which is what makes this opt-out of autoescaping safe."""
    return Markup("".join(parts))  # noqa: S704


def _short(name: str, n: int = 8) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def price_chart(
    bids: Sequence[Mapping[str, Any]],
    *,
    names: Mapping[str, str],
    flagged: Iterable[str] = (),
    estimate: Any = None,
    ceiling: Any = None,
    width: int = 720,
    height: int = 260,
) -> Markup:
    """Bids as bars sorted by price, flagged bidders in red, the estimate and the ceiling as
    dashed lines. Even steps between bids (a ring setting its prices) show as a straight
    staircase; a cover bid far above the rest shows as an outlier."""
    rows = sorted((p, b["key"]) for b in bids if (p := _num(b.get("price"))) is not None)
    if not rows:
        return Markup("")
    marked = set(flagged)
    lines = [(v, label) for v, label in ((_num(estimate), "估算价"), (_num(ceiling), "最高限价"))
             if v is not None]
    top = max([p for p, _ in rows] + [v for v, _ in lines])
    low = min([p for p, _ in rows] + [v for v, _ in lines])
    # Start the axis below the lowest value so differences of a few percent stay visible.
    base = max(0.0, low - (top - low) * 0.6 - top * 0.02)
    left, right, upper, lower = 90, 20, 16, 56
    plot_w, plot_h = width - left - right, height - upper - lower

    def y(v: float) -> float:
        return upper + plot_h * (1 - (v - base) / ((top - base) or 1.0))

    step = plot_w / len(rows)
    bar = max(6.0, min(48.0, step * 0.6))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="投标报价分布" '
           f'font-family="sans-serif" font-size="11">',
           f'<line x1="{left}" y1="{upper + plot_h}" x2="{width - right}" '
           f'y2="{upper + plot_h}" stroke="{GREY}"/>']
    for value in (base, (base + top) / 2, top):
        out.append(f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
                   f'fill="{GREY}">{value:,.0f}</text>')
    for i, (price, key) in enumerate(rows):
        x = left + step * i + (step - bar) / 2
        colour = RED if key in marked else BLUE
        name = escape(names.get(key, key))
        out.append(f'<rect x="{x:.1f}" y="{y(price):.1f}" width="{bar:.1f}" '
                   f'height="{upper + plot_h - y(price):.1f}" fill="{colour}">'
                   f'<title>{name}: {price:,.2f}</title></rect>')
        out.append(f'<text x="{x + bar / 2:.1f}" y="{upper + plot_h + 14}" '
                   f'text-anchor="middle">{escape(_short(names.get(key, key)))}</text>')
        out.append(f'<text x="{x + bar / 2:.1f}" y="{upper + plot_h + 28}" '
                   f'text-anchor="middle" fill="{GREY}">{price / 10000:,.1f}万</text>')
    for value, label in lines:
        out.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" '
                   f'y2="{y(value):.1f}" stroke="{GREY}" stroke-dasharray="6 4"/>')
        out.append(f'<text x="{width - right}" y="{y(value) - 4:.1f}" text-anchor="end" '
                   f'fill="{GREY}">{label} {value:,.0f}</text>')
    out.append("</svg>")
    return _svg(out)


def group_picture(group: graph.Group, names: Mapping[str, str]) -> Markup:
    """collusion.graph's drawing of a group, which escapes every label it writes."""
    return _svg([graph.graph_svg(group, labels=names)])
