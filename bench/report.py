"""How the benchmark states its figures: timings, tables, rounding, text and JSON."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any


@dataclass
class Timing:
    """Wall-clock milliseconds (median and 10th-90th percentiles) and the median CPU time of
    the measuring thread: the CPU part is what a smaller Lambda would stretch, the rest is
    waiting (on DynamoDB)."""

    median_ms: float
    p10_ms: float
    p90_ms: float
    n: int
    cpu_ms: float | None = None

    @classmethod
    def of(cls, samples_ns: list[int], cpu_ns: list[int] | None = None) -> Timing:
        p10, median, p90 = spread([s / 1e6 for s in samples_ns])
        cpu = statistics.median(c / 1e6 for c in cpu_ns) if cpu_ns else None
        return cls(median, p10, p90, len(samples_ns), cpu)

    @property
    def wait_ms(self) -> float:
        return max(0.0, self.median_ms - (self.cpu_ms or 0.0))

    def __str__(self) -> str:
        text = f"{self.median_ms:.2f} ms (p10-p90 {self.p10_ms:.2f}-{self.p90_ms:.2f}, n={self.n}"
        if self.cpu_ms is not None:
            text += f"; CPU {self.cpu_ms:.2f} ms"
        return text + ")"


def spread(values: list[float]) -> tuple[float, float, float]:
    """10th percentile, median, 90th percentile."""
    ordered = sorted(values)
    deciles = statistics.quantiles(ordered, n=10) if len(ordered) > 1 else ordered * 9
    return deciles[0], statistics.median(ordered), deciles[-1]


@dataclass
class Table:
    """Rows of named cells: printed as aligned columns, written to JSON as {row: {column: v}}."""

    columns: tuple[str, ...]  # the first names the row labels
    rows: dict[str, tuple[Any, ...]]

    def lines(self) -> list[str]:
        grid = [list(self.columns)]
        grid += [[label, *(_cell(v) for v in values)] for label, values in self.rows.items()]
        widths = [max(len(row[i]) for row in grid) for i in range(len(self.columns))]
        lines = []
        for label, *cells in grid:  # labels to the left, figures to the right
            padded = [label.ljust(widths[0])]
            padded += [c.rjust(w) for c, w in zip(cells, widths[1:], strict=True)]
            lines.append("  ".join(padded).rstrip())
        return lines

    def to_json(self) -> dict[str, dict[str, Any]]:
        return {
            label: dict(zip(self.columns[1:], values, strict=True))
            for label, values in self.rows.items()
        }


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " + ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def sig(value: float, digits: int = 2) -> float:
    """`value` rounded to `digits` significant figures (0 stays 0)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def usd(value: float) -> str:
    """Dollars to 2 significant figures: $0.0083, $3.5, $1,200."""
    rounded = sig(value)
    if rounded == 0:
        return "$0"
    if abs(rounded) >= 100:
        return f"${rounded:,.0f}"
    decimals = max(0, 1 - math.floor(math.log10(abs(rounded))))
    return f"${rounded:,.{decimals}f}"


def count(value: float, digits: int = 2) -> str:
    """A count to `digits` significant figures, with thousands separators."""
    rounded = sig(value, digits)
    return f"{rounded:,.0f}" if abs(rounded) >= 100 else f"{rounded:g}"


def to_json(value: Any) -> Any:
    if isinstance(value, Timing):
        return {k: to_json(v) for k, v in vars(value).items()}
    if isinstance(value, Table):
        return to_json(value.to_json())
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, float):
        return sig(value, 4)  # small dollar amounts keep their digits
    return value


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []

    def walk(value: dict[str, Any], depth: int) -> None:
        pad = "  " * depth
        for key, item in value.items():
            if isinstance(item, dict):
                lines.append(f"{pad}{key}")
                walk(item, depth + 1)
            elif isinstance(item, Table):
                lines.append(f"{pad}{key}")
                lines.extend(f"{pad}  {line}" for line in item.lines())
            elif isinstance(item, list):
                lines.append(f"{pad}{key}")
                lines.extend(f"{pad}  - {entry}" for entry in item)
            elif isinstance(item, float):
                lines.append(f"{pad}{key}: {item:.3f}")
            else:
                lines.append(f"{pad}{key}: {item}")

    walk(results, 0)
    return "\n".join(lines)
