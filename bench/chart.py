"""The cost chart: monthly cost against monthly active users, log-log, as a standalone SVG.

Plain string building, no plotting library: a viewBox so it scales, a white background and
generic fonts so GitHub shows it the same in light and dark mode, no external CSS or fonts.
"""

from __future__ import annotations

import math
from typing import NamedTuple
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 520
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 70, 112  # margins around the plot area
FONT = 'font-family="Helvetica, Arial, sans-serif"'


class Series(NamedTuple):
    label: str
    color: str
    dashed: bool
    points: list[tuple[float, float]]  # (MAU, USD per month)


def _money(value: float) -> str:
    for threshold, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= threshold:
            return f"${value / threshold:g}{suffix}"
    return f"${value:g}"


def _users(value: float) -> str:
    for threshold, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= threshold:
            return f"{value / threshold:g}{suffix}"
    return f"{value:g}"


def cost_chart(
    series: list[Series],
    *,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
    title: str,
    subtitle: str,
    notes: list[str],
) -> str:
    """Decades as grid lines; a series is drawn from its first point at or above the bottom
    of the y range (a cost of $0, like Cognito's free tier, has no place on a log axis: the
    line rises from the bottom edge where it stops being free)."""
    (x0, x1), (y0, y1) = x_range, y_range
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + plot_w * (math.log10(x) - math.log10(x0)) / (math.log10(x1) - math.log10(x0))

    def py(y: float) -> float:
        clamped = min(max(y, y0), y1)
        fraction = (math.log10(clamped) - math.log10(y0)) / (math.log10(y1) - math.log10(y0))
        return TOP + plot_h * (1 - fraction)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="26" {FONT} font-size="17" font-weight="bold" fill="#111">'
        f"{escape(title)}</text>",
        f'<text x="{LEFT}" y="46" {FONT} font-size="12" fill="#444">{escape(subtitle)}</text>',
    ]
    # Grid and tick labels, one per decade.
    for exponent in range(round(math.log10(x0)), round(math.log10(x1)) + 1):
        x = px(10**exponent)
        out.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" {FONT} font-size="12" fill="#333" '
            f'text-anchor="middle">{_users(10**exponent)}</text>'
        )
    for exponent in range(round(math.log10(y0)), round(math.log10(y1)) + 1):
        y = py(10**exponent)
        out.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" {FONT} font-size="12" fill="#333" '
            f'text-anchor="end">{_money(10**exponent)}</text>'
        )
    out.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>'
    )
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h + 40}" {FONT} font-size="13" '
        'fill="#111" text-anchor="middle">monthly active users (log scale)</text>'
    )
    out.append(
        f'<text transform="translate(18 {TOP + plot_h / 2}) rotate(-90)" {FONT} font-size="13" '
        'fill="#111" text-anchor="middle">USD per month (log scale)</text>'
    )
    for line in series:
        points = _visible(line.points, y0)
        if not points:
            continue
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in points)
        dash = ' stroke-dasharray="7 5"' if line.dashed else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{line.color}" stroke-width="2.5"'
            f'{dash} stroke-linejoin="round"/>'
        )
    # The legend, in the top left corner, where every line is lowest.
    for k, line in enumerate(series):
        y = TOP + 18 + 20 * k
        dash = ' stroke-dasharray="7 5"' if line.dashed else ""
        out.append(
            f'<line x1="{LEFT + 12}" y1="{y}" x2="{LEFT + 44}" y2="{y}" stroke="{line.color}" '
            f'stroke-width="2.5"{dash}/>'
        )
        out.append(
            f'<text x="{LEFT + 52}" y="{y + 4}" {FONT} font-size="12" fill="#111">'
            f"{escape(line.label)}</text>"
        )
    for k, note in enumerate(notes):
        out.append(
            f'<text x="{LEFT}" y="{TOP + plot_h + 60 + 15 * k}" {FONT} font-size="11" '
            f'fill="#444">{escape(note)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _visible(points: list[tuple[float, float]], floor: float) -> list[tuple[float, float]]:
    """The points from the first one at or above `floor`, starting at the floor itself from
    the last point below it."""
    for k, (_, y) in enumerate(points):
        if y >= floor:
            if k == 0:
                return points
            return [(points[k - 1][0], floor), *points[k:]]
    return []
