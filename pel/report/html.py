"""HTML building blocks shared by the report and the notebook views: escaped text, numbers, tables."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from pel.backend.results import Result, VarResult

MAX_ROWS = 500  # rows of a report's tables (assumptions, lint findings, constraints, warnings); the rest are counted


def esc(value: Any) -> str:
    """Any value as HTML text: every model-supplied string goes through here (quotes escaped too)."""
    return html.escape("" if value is None else str(value), quote=True)


def number(x: Any) -> str:
    """A number for a table: thousands separated, a few significant digits; "—" for none, NaN or infinity."""
    if x is None or isinstance(x, str):
        return "—" if x is None else x
    if isinstance(x, (bool, np.bool_)):
        return "true" if x else "false"
    v = float(x)
    if not math.isfinite(v):
        return "—"
    if v == math.floor(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    if abs(v) >= 1e15 or abs(v) < 1e-4:
        return f"{v:.4g}"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], cls: str = "") -> str:
    """A <table>: headers and cells escaped; numbers formatted and right-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            if isinstance(cell, (int, float, np.number)) and not isinstance(cell, bool):
                cells.append(f'<td class="num">{esc(number(cell))}</td>')
            else:
                cells.append(f"<td>{esc('—' if cell is None or cell == '' else cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def horizon_row(var: VarResult, monte_carlo: bool, unit: str = "") -> list[Any]:
    """One output at the horizon: name, unit, the last step, value (the mean in Monte Carlo), p5, p50, p95."""
    if var.text is not None:
        return [var.name, unit, "—", var.text, None, None, None]
    if len(var.t) == 0:
        return [var.name, unit, "—", None, None, None, None]
    k = len(var.t) - 1
    step = int(var.t[k]) if var.time_varying else "all"
    value: Any = float(var.value[k])
    if var.boolean and not monte_carlo and math.isfinite(value):
        value = "true" if value != 0.0 else "false"
    if not monte_carlo:
        return [var.name, unit, step, value, None, None, None]
    return [var.name, unit, step, value, float(var.p5[k]), float(var.p50[k]), float(var.p95[k])]


HORIZON_HEADERS = ("Output", "Unit", "t", "Value (mean)", "p5", "p50", "p95")


def horizon_table(result: Result, units: dict[str, str], names: Sequence[str] | None = None) -> str:
    """The outputs table at the horizon."""
    mc = result.mode == "monte_carlo"
    chosen = list(result.variables) if names is None else names
    headers = HORIZON_HEADERS if mc else ("Output", "Unit", "t", "Value", "", "", "")
    rows = [horizon_row(result.variables[n], mc, units.get(n, "")) for n in chosen]
    if not mc:
        headers, rows = headers[:4], [r[:4] for r in rows]
    return table(headers, rows, "outputs")


def count_more(n: int) -> str:
    """A note on the rows beyond MAX_ROWS, or nothing."""
    return f'<p class="note">{n - MAX_ROWS:,} more rows are not shown.</p>' if n > MAX_ROWS else ""


def chart_figure(svg: str, kind: str, name: str, caption: str) -> str:
    """A chart in a <figure class="chart KIND"> naming its variable, with an escaped caption."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="chart {kind}" data-var="{esc(name)}">{svg}{cap}</figure>'
