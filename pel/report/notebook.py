"""Notebook views: `Result._repr_html_` (status, outputs table, a fan chart), `Result.plot`, `Model._repr_html_`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pel.backend.results import Result
from pel.report import charts
from pel.report.html import esc, horizon_table, number, table
from pel.report.resultsfile import checked_variable

if TYPE_CHECKING:
    from pel.model import Model

MAX_ROWS = 20  # outputs and parameters listed in a notebook view (the rest are counted)
MAX_FANS = 4  # outputs drawn in a Result's notebook view


def plot_variable(result: Result, name: str, ax: Any = None) -> Any:
    """A fan chart of output `name` on `ax` (a new pyplot figure's axes when None); the Axes."""
    checked_variable(result, name)
    charts.require()
    with charts.style():
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(6.4, 3.2), layout="constrained")
        charts.fan(ax, result.variables[name], result.mode == "monte_carlo", "", result.time_unit)
    return ax


def result_html(result: Result) -> str:
    """The HTML a notebook shows for a Result."""
    mc = result.mode == "monte_carlo"
    paths = f", {result.runs:,} paths" if mc and result.runs else ""
    head = (f"<p><b>{esc(result.model_name)}</b> — {esc(result.mode)}{esc(paths)}, t = 0..{result.steps} "
            f"({esc(result.time_unit)}), seed {result.seed}: <b>{esc(result.status)}</b>"
            + (f" — {esc(result.message)}" if result.message else "") + "</p>")
    names = list(result.variables)
    more = (f"<p><i>{len(names) - MAX_ROWS:,} more outputs: <code>result.to_pandas()</code></i></p>"
            if len(names) > MAX_ROWS else "")
    return f'<div class="pel-result">{head}{horizon_table(result, {}, names[:MAX_ROWS])}{more}{_fans(result)}</div>'


def _fans(result: Result) -> str:
    """Up to MAX_FANS outputs side by side in one inline SVG; a note when matplotlib is missing."""
    names = [n for n, v in result.variables.items() if v.text is None and v.time_varying and len(v.t)][:MAX_FANS]
    if not names:
        return ""
    if not charts.available():  # a view without its chart, not a failure
        return "<p><i>Charts need matplotlib: pip install 'pel-lang[plot]'.</i></p>"
    with charts.style():
        fig, axes = charts.figure(3.6 * len(names), 2.8, cols=len(names), fitted=True)
        for ax, name in zip(axes, names, strict=True):
            charts.fan(ax, result.variables[name], result.mode == "monte_carlo", "", result.time_unit)
        return charts.svg_text(fig, f"pel-{id(result):x}")


def model_html(model: Model) -> str:
    """The HTML a notebook shows for a Model: name, hash and its parameters with provenance."""
    m = model.program.model
    head = (f"<p><b>{esc(m.name)}</b> <code>{esc(model.hash)}</code> — {len(m.params)} parameters, "
            f"{len(m.vars)} variables, {len(m.constraints)} constraints, horizon {m.time_horizon} "
            f"({esc(m.time_unit)})</p>")
    rows = [[p.name, p.type.display, p.type.unit, p.value_text or number(p.central),
             "distribution" if p.distribution is not None else "fixed", p.provenance.source, p.provenance.method,
             p.provenance.confidence, p.provenance.owner] for p in m.params[:MAX_ROWS]]
    body = table(("Parameter", "Type", "Unit", "Value or distribution", "Kind", "Source", "Method", "Confidence",
                  "Owner"), rows, "params")
    more = f"<p><i>{len(m.params) - MAX_ROWS:,} more parameters</i></p>" if len(m.params) > MAX_ROWS else ""
    return f'<div class="pel-model">{head}{body}{more}</div>'
