"""The self-contained HTML report of a run: header, outputs, fan charts, histograms, constraints, assumptions,
lint findings and warnings in one file with inline CSS and SVG (no script, no external URL, no font)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pel.backend.results import Result
from pel.diagnostics import Diagnostic
from pel.ir import nodes as ir
from pel.report import DEFAULT_MAX_CHARTS, charts
from pel.report.constraints import constraint_rows, constraints_panel
from pel.report.histograms import horizon_histogram
from pel.report.html import MAX_ROWS, chart_figure, count_more, esc, horizon_table, number, table


@dataclass
class ReportContext:
    """Everything a report shows besides the Result: what the model file adds, the options and the hooks."""

    source: str  # the model or results file the report is of
    units: dict[str, str] = field(default_factory=dict)  # output -> unit (from the model; empty for a file)
    params: Sequence[ir.Param] | None = None  # the model's parameters (None: a results file)
    constraints: Sequence[ir.Constraint] | None = None  # the model's constraints (None: a results file)
    lint: list[Any] | None = None  # pel lint findings (None: not available)
    compile_warnings: list[Diagnostic] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)  # the run's --set items
    tornado: list[charts.TornadoRow] | None = None  # sensitivity rows (`pel report --sensitivity VAR`)
    tornado_output: str | None = None
    tornado_base: float | None = None  # the output at every parameter's central value (the bars' origin)
    max_charts: int = DEFAULT_MAX_CHARTS


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d1d1f;
background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:32px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#555;font-size:.9em}.meta code{font-size:.95em}
table{border-collapse:collapse;font-size:.85em;margin:8px 0;background:#fff}
th,td{border:1px solid #e2e2e2;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f7}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.charts.wide{grid-template-columns:1fr}.charts.wide svg{width:auto;max-width:100%}
.scroll{overflow-x:auto}table.assumptions td:last-child{min-width:16em}
figure{margin:0;background:#fff;border:1px solid #e2e2e2;padding:6px}
figure svg{width:100%;height:auto}figcaption{font-size:.8em;color:#555}
.status{display:inline-block;padding:2px 8px;border-radius:4px;font-weight:600}
.status.success{background:#e3f4e1;color:#1e6b1a}.status.partial,.status.constraint_violation{background:#fff1d6;
color:#8a5a00}.status.failed{background:#fde2e1;color:#9b1c1c}
.note{color:#555;font-size:.85em}.level-error{color:#9b1c1c}.level-warning{color:#8a5a00}
"""


def render(result: Result, ctx: ReportContext) -> str:
    """The report as one HTML document."""
    sections = [
        _header(result, ctx),
        _section("outputs", "Outputs at the horizon", _outputs(result, ctx)),
        _section("fan-charts", "Outputs over time", _fans(result, ctx)),
    ]
    if result.mode == "monte_carlo":
        sections.append(_section("histograms", "Distributions at the horizon", _histograms(result, ctx)))
    sections.append(_section("constraints", "Constraints", constraints_panel(result, ctx.constraints)))
    if ctx.tornado is not None:
        sections.append(_section("sensitivity", "Sensitivity", _tornado(result, ctx)))
    sections += [
        _section("assumptions", "Assumption register", _assumptions(result, ctx)),
        _section("lint", "pel lint findings", _lint(ctx)),
        _section("warnings", "Warnings", _warnings(result, ctx)),
    ]
    title = f"{result.model_name} — PEL report"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
            + "".join(sections) + "</main></body></html>\n")


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{esc(title)}</h2>{body}</section>'


def _header(result: Result, ctx: ReportContext) -> str:
    options = [f"mode {result.mode}", f"seed {result.seed}", f"steps 0..{result.steps} ({result.time_unit})"]
    if result.mode == "monte_carlo" and result.runs:
        options.append(f"{result.runs:,} paths")
    options += [f"--set {item}" for item in ctx.overrides]
    came = ", ".join(f"{k}: {v}" for k, v in (result.settings_from or {}).items())
    status = f'<span class="status {esc(result.status)}">{esc(result.status)}</span>'
    rows = [("Model", esc(result.model_name))]
    version = getattr(result, "model_version", None)
    if version:
        rows.append(("Model version", esc(version)))
    scenario = getattr(result, "scenario", None)
    if scenario:
        rows.append(("Scenario", esc(scenario)))
    rows += [
        ("Model hash", f"<code>{esc(result.model_hash)}</code>"),
        ("PEL version", esc(result.pel_version)),
        ("Input", f"<code>{esc(ctx.source)}</code>"),
        ("Run options", esc("; ".join(options)) + (f' <span class="note">(from: {esc(came)})</span>' if came else "")),
        ("Status", status + (f" {esc(result.message)}" if result.message else "")),
    ]
    if result.mode == "monte_carlo" and result.success_rate is not None:
        rows.append(("Paths completed", esc(f"{result.success_rate:.2%}")))
    if result.percentiles:
        bound = result.percentiles.get("rank_error_bound") or 0.0
        rows.append(("Percentiles", esc(f"{result.percentiles.get('method')} (rank error bound {bound:.3%})")))
    meta = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<header><h1>{esc(result.model_name)}</h1><table class="meta">{meta}</table></header>'


def _outputs(result: Result, ctx: ReportContext) -> str:
    return horizon_table(result, ctx.units)


def charted(result: Result, limit: int) -> tuple[list[str], int]:
    """The outputs drawn as fan charts (time series of numbers, in output order, at most `limit`), and how many
    such outputs there are."""
    names = [n for n, v in result.variables.items() if v.text is None and v.time_varying and len(v.t)]
    return names[:limit], len(names)


def _fans(result: Result, ctx: ReportContext) -> str:
    names, total = charted(result, ctx.max_charts)
    if not names:
        return '<p class="note">No output varies over time.</p>'
    mc = result.mode == "monte_carlo"
    figures = []
    with charts.style():
        for k, name in enumerate(names):
            fig, (ax,) = charts.figure()
            charts.fan(ax, result.variables[name], mc, ctx.units.get(name, ""), result.time_unit)
            figures.append(chart_figure(charts.svg_text(fig, f"fan{k}"), "fan", name, ""))
    what = ("p5–p95 (light) and p25–p75 (dark) bands of the paths, and the median" if mc
            else "the value of the deterministic run")
    return f'<p class="note">{esc(what)}.{_more(len(names), total)}</p><div class="charts">{"".join(figures)}</div>'


def _more(shown: int, total: int) -> str:
    if shown >= total:
        return ""
    return esc(f" {shown} of {total} outputs are drawn (pel report --charts N draws more; pel plot draws one);"
               " the table above lists them all.")


def _histograms(result: Result, ctx: ReportContext) -> str:
    hists = []
    for name, var in result.variables.items():
        if len(hists) >= ctx.max_charts:
            break
        if var.text is None and not var.boolean:
            h = horizon_histogram(result, name)
            if h is not None:
                hists.append(h)
    if not hists:
        return '<p class="note">No numeric output has a value at the horizon.</p>'
    figures = []
    with charts.style():
        for k, h in enumerate(hists):
            fig, (ax,) = charts.figure(6.4, 2.8)
            charts.histogram(ax, h, ctx.units.get(h.name, ""))
            figures.append(chart_figure(charts.svg_text(fig, f"hist{k}"), "histogram", h.name, h.note()))
    return f'<p class="note">At t = {result.steps}.</p><div class="charts">{"".join(figures)}</div>'


def _tornado(result: Result, ctx: ReportContext) -> str:
    rows = ctx.tornado or []
    output = ctx.tornado_output or ""
    if not rows or output not in result.variables:
        return '<p class="note">No sensitivity rows.</p>'
    var = result.variables[output]
    base = ctx.tornado_base if ctx.tornado_base is not None else float(var.value[-1])
    with charts.style():
        fig, (ax,) = charts.figure(7.0, 1.2 + 0.35 * len(rows), fitted=True)
        charts.tornado(ax, rows, base, output)
        svg = charts.svg_text(fig, "tornado")
    cells = [[r.param, r.low, r.high, abs(r.high - r.low)] for r in rows]
    return (f'<div class="charts">{chart_figure(svg, "tornado", output, "")}</div>'
            + table(("Parameter", f"{output} at low", f"{output} at high", "Swing"), cells, "tornado"))


def _assumptions(result: Result, ctx: ReportContext) -> str:
    if ctx.params is not None:
        rows = [[p.name, p.type.display, p.value_text or number(p.central), _value(result, p.name),
                 p.provenance.source, p.provenance.method, p.provenance.confidence, p.provenance.owner,
                 p.provenance.freshness, p.provenance.notes] for p in ctx.params]
        headers = ("Parameter", "Type", "Declared", "Value in this run", "Source", "Method", "Confidence", "Owner",
                   "Freshness", "Notes")
    else:
        rows = [[a.get("name"), a.get("unit"), _shown(a.get("value")), a.get("source"), a.get("method"),
                 a.get("confidence")] for a in result.assumptions]
        headers = ("Parameter", "Unit", "Value in this run", "Source", "Method", "Confidence")
    if not rows:
        return '<p class="note">The model has no parameter.</p>'
    return f'<div class="scroll">{table(headers, rows[:MAX_ROWS], "assumptions")}</div>' + count_more(len(rows))


def _value(result: Result, name: str) -> str:
    entry = next((a for a in result.assumptions if a.get("name") == name), None)
    return "—" if entry is None else _shown(entry.get("value"))


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(number(v) for v in value[:8]) + (", …" if len(value) > 8 else "") + "]"
    return number(value) if not isinstance(value, str) else value


def _lint(ctx: ReportContext) -> str:
    if ctx.lint is None:
        return ('<p class="note">Lint needs the model: <code>pel report MODEL</code> (or <code>pel lint '
                "MODEL</code>).</p>")
    if not ctx.lint:
        return '<p class="note">No finding.</p>'
    rows = [[f.rule, f.level, f"{f.file}:{f.line}:{f.col}", f.message] for f in ctx.lint]
    return table(("Rule", "Level", "Where", "Finding"), rows[:MAX_ROWS], "lint") + count_more(len(rows))


def _warnings(result: Result, ctx: ReportContext) -> str:
    items = [d.header() for d in ctx.compile_warnings]
    items += [f"note: {n}" for n in result.notes]
    failed = result.failed_paths or {}
    for kind, n in (failed.get("by_kind") or {}).items():
        items.append(f"{n:,} paths failed: {kind}")
    first = failed.get("first")
    if first:
        items.append(f"first failed path {first.get('path')} at t={first.get('t')}: {first.get('message')}")
    conv = result.convergence or {}
    if conv.get("until_se") is not None and conv.get("stopped") != "converged":
        items.append(f"--until-se {conv.get('until_se')}: not converged after {conv.get('paths')} paths")
    for row in constraint_rows(result, ctx.constraints):
        if row["count"] and row["severity"] == "warning":
            unit = "paths" if result.mode == "monte_carlo" else "steps"
            items.append(f"constraint {row['name']} (warning): violated in {row['count']:,} {unit}"
                         + (f", first at t={row['min']}" if row["min"] is not None else "")
                         + (f": {row['message']}" if row["message"] else ""))
    if not items:
        return '<p class="note">No warning.</p>'
    shown = "".join(f"<li>{esc(item)}</li>" for item in items[:MAX_ROWS])
    return f'<ul class="warnings">{shown}</ul>' + count_more(len(items))
