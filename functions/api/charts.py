"""Chart geometry for the pages' inline SVG: where each bar, line and label goes, in SVG user units.

Only numbers and the texts to show are computed here; the markup is in `templates/charts.html`,
so that everything printed is escaped by the template engine. Every chart is drawn next to a
table of the same numbers (the page's job), and carries a title and a description.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# On white: 6.3, 6.2, 16.6, 8.5, 5.9, 7.3, 5.6 : 1 (text at 4.5:1 or more, graphics at 3:1 or more).
TOWARDS, AGAINST, INK, MUTED = "#1a5fb4", "#b3261e", "#1f1f1f", "#4d4d4d"
SERIES = ("#1a5fb4", "#b3261e", "#26734d", "#7a3e9d", "#8a5a00", "#1f1f1f")
WIDTH = 680


def short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass(frozen=True)
class Bar:
    label: str
    x: float
    y: float
    width: float
    height: float
    colour: str
    value_text: str
    value_x: float
    value_anchor: str = "start"
    second: tuple[float, float, float, float] | None = None  # a baseline bar under it: x, y, width, height


@dataclass(frozen=True)
class Rule:
    """A reference line (the four-fifths threshold) and its label."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: str
    label_x: float
    label_y: float


@dataclass(frozen=True)
class BarChart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    label_x: float
    bars: list[Bar]
    axis_x: float
    rules: list[Rule] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (colour, text)


def diverging_bars(rows: Sequence[tuple[str, float, str]], *, chart_id: str, title: str, desc: str) -> BarChart:
    """Signed values around a central zero line (the customer's reasons): `(label, value, value_text)`."""
    label_w, row_h, top = 250, 30, 10
    zero = label_w + (WIDTH - label_w) // 2
    half = (WIDTH - label_w) // 2 - 60
    largest = max((abs(value) for _, value, _ in rows), default=1.0) or 1.0
    bars = []
    for index, (label, value, text) in enumerate(rows):
        y = top + index * row_h
        length = max(2, round(abs(value) / largest * half))
        towards = value >= 0
        bars.append(
            Bar(
                label=short(label),
                x=zero if towards else zero - length,
                y=y + 6,
                width=length,
                height=18,
                colour=TOWARDS if towards else AGAINST,
                value_text=text,
                value_x=zero + length + 6 if towards else zero - length - 6,
                value_anchor="start" if towards else "end",
            )
        )
    return BarChart(chart_id, title, desc, WIDTH, top * 2 + row_h * len(rows), label_w - 8, bars, zero)


def horizontal_bars(
    rows: Sequence[tuple[str, float, str, bool]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    scale: float | None = None,
    reference: tuple[float, str] | None = None,
    baseline: Sequence[float | None] | None = None,
    legend: Sequence[tuple[str, str]] = (),
) -> BarChart:
    """Non-negative values from a common left edge: `(label, value, value_text, flagged)`.

    `scale` is the value at the right end of the plot (default: the largest value); `reference`
    draws a vertical rule at that value with its label; `baseline` adds a thinner bar per row.
    """
    label_w, right = 220, 150
    top = (24 if reference else 10) + 16 * len(legend)  # room above the bars for the legend and the rule's label
    row_h = 40 if baseline is not None else 30
    plot_w = WIDTH - label_w - right
    values = [value for _, value, _, _ in rows] + [b for b in baseline or () if b is not None]
    end = scale if scale is not None else max(values, default=0.0)
    end = end or 1.0

    def x(value: float) -> float:
        return round(label_w + min(max(value, 0.0), end) / end * plot_w, 1)

    bars = []
    for index, (label, value, text, flagged) in enumerate(rows):
        y = top + index * row_h
        second = None
        if baseline is not None and baseline[index] is not None:
            second = (label_w, y + 25, max(1.0, x(baseline[index] or 0.0) - label_w), 6)
        bars.append(
            Bar(
                label=short(label),
                x=label_w,
                y=y + 6,
                width=max(1.0, x(value) - label_w),
                height=18,
                colour=AGAINST if flagged else TOWARDS,
                value_text=text,
                value_x=x(value) + 6,
                second=second,
            )
        )
    height = top + row_h * len(rows) + 10
    rules = []
    if reference is not None:
        at, label = reference
        rules.append(Rule(x(at), top - 4, x(at), height - 4, label, x(at), top - 8))
    return BarChart(chart_id, title, desc, WIDTH, height, label_w - 8, bars, label_w, rules, list(legend))


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    lines: list[list[tuple[float, float]]]  # runs of consecutive days with a value (a gap breaks the line)
    points: list[tuple[float, float]]


@dataclass(frozen=True)
class LineChart:
    id: str
    title: str
    desc: str
    width: int
    height: int
    plot: tuple[float, float, float, float]  # left, top, right, bottom
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    rules: list[Rule]


def trend_lines(
    days: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    chart_id: str,
    title: str,
    desc: str,
    reference: tuple[float, str] | None = None,
    top_value: float = 1.0,
) -> LineChart:
    """One line per group over the days (x), values from 0 to at least `top_value` (y)."""
    left, top, right, bottom, height = 50, 16, WIDTH - 170, 230, 262
    peak = max([top_value, *(v for _, values in series for v in values if v is not None)])
    step = (right - left) / (len(days) - 1) if len(days) > 1 else 0.0

    def x(index: int) -> float:
        return round(left + index * step if len(days) > 1 else (left + right) / 2, 1)

    def y(value: float) -> float:
        return round(bottom - value / peak * (bottom - top), 1)

    drawn = []
    for number, (name, values) in enumerate(series):
        runs: list[list[tuple[float, float]]] = [[]]
        for index, value in enumerate(values):
            if value is None:
                runs.append([])
            else:
                runs[-1].append((x(index), y(value)))
        points = [point for run in runs for point in run]
        drawn.append(Series(short(name, 16), SERIES[number % len(SERIES)], [r for r in runs if len(r) > 1], points))
    ticks = [(y(peak * i / 5), f"{peak * i / 5:.1f}") for i in range(6)]
    shown = sorted({0, len(days) // 2, len(days) - 1}) if days else []
    rules = []
    if reference is not None:
        at, label = reference
        rules.append(Rule(left, y(at), right, y(at), label, right + 4, y(at) + 4))
    return LineChart(
        chart_id, title, desc, WIDTH, height, (left, top, right, bottom), drawn, ticks,
        [(x(i), days[i]) for i in shown], rules,
    )  # fmt: skip
