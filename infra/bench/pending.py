"""Figure 4: not measurable yet; printed as such so the table keeps its final shape."""

from __future__ import annotations

from infra.bench.stats import Figure, Row


def black_box(quick: bool) -> Figure:
    return _pending(
        4,
        "Black-box explanation",
        "at most 2 model calls per explanation over the HTTPS adapter on 127.0.0.1, error vs exact TreeSHAP",
        "remote model adapters (issue 5)",
    )


def _pending(number: int, title: str, goal: str, needs: str) -> Figure:
    figure = Figure(number, title, goal, available=False)
    figure.rows.append(Row(title, f"not yet available: needs {needs}", "-"))
    return figure
