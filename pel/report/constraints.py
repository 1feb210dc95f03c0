"""The constraints panel of a report: a row per constraint (violations, rate, first-violation times, message) and
a chart of the violations over time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pel.backend.results import Result
from pel.ir import nodes as ir
from pel.report import charts
from pel.report.html import MAX_ROWS, chart_figure, count_more, table

MAX_CONSTRAINT_LINES = 8  # constraints drawn in the chart (the most violated)


def constraint_rows(result: Result, declared: Sequence[ir.Constraint] | None) -> list[dict]:
    """One row per constraint: name, severity, violations (paths, or steps in a deterministic run), rate, first
    violation times, message, and the steps violated (deterministic)."""
    if result.mode == "monte_carlo":
        out = []
        for name, e in (result.constraints or {}).items():
            first = e.get("first_violation_t") or {}
            out.append({"name": name, "severity": e.get("severity"), "count": e.get("violations", 0),
                        "rate": e.get("rate"), "min": first.get("min"), "mean": first.get("mean"),
                        "max": first.get("max"), "message": e.get("message")})
        return out
    rows: dict[str, dict] = {}
    if declared is not None:
        for c in declared:
            rows[c.name] = {"name": c.name, "severity": c.severity, "steps": [], "message": None}
    for entry in [*result.violations, *result.warnings]:
        name = str(entry.get("constraint"))
        row = rows.setdefault(name, {"name": name, "severity": entry.get("severity"), "steps": [], "message": None})
        row["steps"].append(int(entry.get("t", 0)))
        row["message"] = row["message"] or entry.get("message")
    for row in rows.values():
        steps = sorted(row["steps"])
        row.update(count=len(steps), rate=len(steps) / (result.steps + 1), min=steps[0] if steps else None,
                   max=steps[-1] if steps else None, mean=sum(steps) / len(steps) if steps else None)
    return list(rows.values())


def constraints_panel(result: Result, declared: Sequence[ir.Constraint] | None) -> str:
    """The constraints section: the chart of violations over time and the table (`declared`: the model's
    constraints, None for a results file)."""
    rows = constraint_rows(result, declared)
    if not rows:
        return '<p class="note">The model declares no constraint.</p>' if declared is not None else \
            '<p class="note">No constraint was violated.</p>'
    mc = result.mode == "monte_carlo"
    unit = "paths" if mc else "steps"
    headers = ("Constraint", "Severity", f"Violations ({unit})", f"Rate ({unit})", "First violation t: min",
               "mean", "max", "Message (first)")
    body = table(headers, [[r["name"], r["severity"], r["count"], _pct(r["rate"]), r["min"], r["mean"], r["max"],
                            r["message"]] for r in rows[:MAX_ROWS]], "constraints")
    return _constraint_chart(result, rows) + body + count_more(len(rows))


def _pct(rate: Any) -> str:
    return "—" if rate is None or not math.isfinite(float(rate)) else f"{float(rate):.2%}"


def _constraint_chart(result: Result, rows: list[dict]) -> str:
    hit = sorted((r for r in rows if r["count"]), key=lambda r: -r["count"])[:MAX_CONSTRAINT_LINES]
    if not hit:
        return '<p class="note">No constraint was violated.</p>'
    mc = result.mode == "monte_carlo"
    if mc and not result.first_violations:
        return ('<p class="note">Per-step violation rates are kept by a run, not by a results file: '
                "<code>pel report MODEL</code> draws them. The table gives each constraint's first-violation "
                "times.</p>")
    if mc:
        runs = float(result.runs or 1)
        series = [(r["name"], np.cumsum(result.first_violations[r["name"]]) / runs) for r in hit
                  if r["name"] in result.first_violations]
        caption = "share of all paths whose first violation of the constraint is at or before t"
    else:
        series = [(r["name"], np.array(sorted(r["steps"]))) for r in hit]
        caption = "steps at which each constraint was violated"
    with charts.style():
        fig, (ax,) = charts.figure(9.0, 2.2 + 0.25 * len(series) * (not mc), fitted=True)  # room for names
        charts.constraint_steps(ax, series, result.steps, mc, result.time_unit)
        svg = charts.svg_text(fig, "constraints")
    return f'<div class="charts wide">{chart_figure(svg, "constraint-chart", "", caption)}</div>'
