"""Small inline SVG charts drawn on the server (no chart library, nothing from a CDN).

>>> svg = bar_chart([("岳阳街道", 3.0), ("方松街道", 1.0)], fmt="{:.0f}")
>>> svg.count("<rect")
2
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#1565c0"
GRID = "#dde1e7"


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    fmt: str = "{:.0f}",
    max_value: float | None = None,
    width: int = 460,
    colour: str = BAR,
) -> Markup:
    """Horizontal bars, one per (label, value); ``max_value`` fixes the scale (e.g. 1.0)."""
    if not rows:
        return Markup("")
    label_w, row_h, pad = 130, 22, 6
    top = max_value if max_value is not None else max(v for _, v in rows) or 1.0
    span = width - label_w - 60
    height = len(rows) * row_h + pad
    parts = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" class="bar-chart">'
    ]
    for i, (label, value) in enumerate(rows):
        y = pad + i * row_h
        w = max(0.0, min(1.0, value / top)) * span if top else 0.0
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{span}" height="{row_h - 6}" fill="{GRID}"/>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"><title>{escape(label)}: {escape(fmt.format(value))}</title></rect>'
            f'<text x="{label_w + span + 6}" y="{y + 14}">{escape(fmt.format(value))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(
    rows: Sequence[tuple[str, float]], *, width: int = 460, height: int = 180, colour: str = BAR
) -> Markup:
    """Vertical columns over time (label under every few columns)."""
    if not rows:
        return Markup("")
    left, bottom, top_pad = 30, 22, 10
    top = max(v for _, v in rows) or 1.0
    plot_w, plot_h = width - left - 6, height - bottom - top_pad
    step = plot_w / len(rows)
    every = max(1, len(rows) // 7)
    parts = [
        f'<svg viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" class="column-chart">',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 6}" y2="{top_pad + plot_h}" '
        f'stroke="#9aa5b5"/>',
        f'<text x="{left - 4}" y="{top_pad + 8}" text-anchor="end">{top:.0f}</text>',
    ]
    for i, (label, value) in enumerate(rows):
        h = value / top * plot_h
        x = left + i * step
        bar_w = max(1.0, step - 2)
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top_pad + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="{colour}"><title>{escape(label)}: {value:.0f}</title></rect>'
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{height - 6}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_table(
    rows: Sequence[tuple[str, str]],
    columns: Sequence[str],
    values: dict[tuple[str, str], int],
    *,
    css_id: str = "",
) -> Markup:
    """A table of counts per (row key, column), cells shaded by their share of the maximum.

    ``rows`` are (key, label) pairs; ``values`` maps (row key, column) to a count.
    """
    if not rows or not columns:
        return Markup("")
    top = max(values.values(), default=0) or 1
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = []
    for key, label in rows:
        cells = []
        for column in columns:
            n = values.get((key, column), 0)
            alpha = 0.12 + 0.8 * n / top if n else 0.0
            style = f' style="background:rgba(21,101,192,{alpha:.2f})"' if n else ""
            cells.append(f"<td{style}>{n or ''}</td>")
        body.append(f"<tr><th>{escape(label)}</th>{''.join(cells)}</tr>")
    ident = f' id="{escape(css_id)}"' if css_id else ""
    return Markup(
        f'<table class="heat"{ident}><thead><tr><th></th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
