"""The results file (JSON) and the table, as plain text for the terminal and markdown for the docs."""

from __future__ import annotations

from typing import Any

from infra.bench.stats import Figure, Row


def results(figures: list[Figure], machine: dict[str, Any], command: str, quick: bool) -> dict[str, Any]:
    return {
        "schema": "candor.bench/1",
        "command": command,
        "quick": quick,
        "machine": machine,
        "figures": [figure.to_json() for figure in sorted(figures, key=lambda f: f.number)],
    }


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return f"{value:.1e}"


def _cells(row: Row) -> list[str]:
    s = row.summary
    if s is None:
        return [row.name, _number(row.value), "", "", row.unit, row.measured + (f" ({row.note})" if row.note else "")]
    spread = f"{_number(s.p10)}-{_number(s.p90)}"
    p99 = _number(s.p99) if s.p99 is not None else ""
    return [row.name, _number(s.median), spread, p99, row.unit, f"{row.measured} (n={s.runs})"]


def _verdict(figure: Figure) -> str:
    if not figure.available:
        return "not yet available"
    return {True: "goal met", False: "goal MISSED", None: "not judged"}[figure.goal_met]


HEADER = ["figure / row", "median", "p10-p90", "p99", "unit", "what (runs)"]


def markdown(data: dict[str, Any], figures: list[Figure]) -> str:
    m = data["machine"]
    lines = [
        f"Measured {m['date']} on {m['platform']}, {m['cores']} cores ({m['cores_usable']} usable), "
        f"Python {m['python']}; `{data['command']}`.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---" for _ in HEADER) + "|",
    ]
    for figure in sorted(figures, key=lambda f: f.number):
        lines.append(f"| **{figure.number}. {figure.title}**: {_verdict(figure)} | | | | | {figure.goal} |")
        lines += ["| " + " | ".join(_cells(row)) + " |" for row in figure.rows]
    return "\n".join(lines) + "\n"


def text(data: dict[str, Any], figures: list[Figure]) -> str:
    m = data["machine"]
    out = [f"{m['date']}  {m['platform']}  cores={m['cores']}  python={m['python']}  quick={data['quick']}"]
    widths = [66, 9, 19, 9, 9]
    for figure in sorted(figures, key=lambda f: f.number):
        out += ["", f"{figure.number}. {figure.title}: {_verdict(figure)}", f"   goal: {figure.goal}"]
        for row in figure.rows:
            cells = _cells(row)
            out.append("   " + "".join(c[: w - 1].ljust(w) for c, w in zip(cells, widths, strict=False)) + cells[5])
        out += [f"   note: {note}" for note in figure.notes]
    return "\n".join(out)
