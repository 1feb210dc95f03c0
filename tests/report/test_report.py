"""The HTML report: its charts (counted per kind, their bands and lines), its tables, offline and escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.backend.results import Result
from pel.report import build, charts, page
from pel.report.charts import TornadoRow
from pel.report.resultsfile import result_from_dict
from tests.report.common import REVENUE, SAAS, Page, revenue_det, saas_mc

pytest.importorskip("matplotlib", reason="the report's charts need matplotlib (pip install -e '.[dev]')")

BAND_OUTER, BAND_INNER, LINE = "#c6dbef", "#6baed6", "#08519c"


def _model_report(result: Result, path: Path, **kwargs: object) -> str:
    comp = pel.compile(path)
    ctx = build.model_context(comp.program, str(path), warnings=comp.warnings, **kwargs)  # type: ignore[arg-type]
    return build.report_html(result, ctx)


@pytest.fixture(scope="module")
def saas_html() -> str:
    return _model_report(saas_mc(), SAAS)


@pytest.fixture(scope="module")
def revenue_html() -> str:
    return _model_report(revenue_det(), REVENUE)


def test_monte_carlo_report_has_a_fan_chart_and_a_histogram_per_output(saas_html: str) -> None:
    doc = Page(saas_html)
    outputs = list(saas_mc().variables)
    fans = doc.charts("fan")
    assert [f["data-var"] for f in fans] == outputs  # every output of the SaaS model varies over time
    hists = doc.charts("histogram")
    assert [f["data-var"] for f in hists] == outputs
    for fig in fans + hists:
        assert fig["svgs"] == "1" and int(fig["paths"] or 0) >= 3, fig
    # each fan: the p5-p95 and the p25-p75 band and the median line, in their colours
    fan_svgs = re.findall(r'<figure class="chart fan".*?</figure>', saas_html, re.S)
    assert len(fan_svgs) == len(outputs)
    for svg in fan_svgs:
        assert f"fill: {BAND_OUTER}" in svg and f"fill: {BAND_INNER}" in svg and f"stroke: {LINE}" in svg
    assert len(doc.charts("constraint-chart")) == 1


def test_report_header_and_outputs_table(saas_html: str) -> None:
    r = saas_mc()
    doc = Page(saas_html)
    text = " ".join(doc.text)
    for shown in (r.model_name, r.model_hash, r.pel_version, "seed 7", "2,000 paths", "steps 0..60 (Month)",
                  "partial"):
        assert shown in text, shown
    rows = re.findall(r"<tr><td>mrr</td><td>USD</td><td class=\"num\">60</td>(.*?)</tr>", saas_html)
    assert len(rows) == 1
    cells = re.findall(r'<td class="num">([^<]*)</td>', rows[0])
    mrr = r["mrr"]
    assert cells == [f"{v:,.0f}" for v in (mrr.mean[-1], mrr.p5[-1], mrr.p50[-1], mrr.p95[-1])]


def test_constraints_panel_counts_and_first_violation_times(saas_html: str) -> None:
    r = saas_mc()
    section = re.search(r'<section id="constraints">.*?</section>', saas_html, re.S).group(0)  # type: ignore[union-attr]
    for name, entry in (r.constraints or {}).items():
        first = entry["first_violation_t"]
        row = re.search(rf"<tr><td>{name}</td><td>{entry['severity']}</td>(.*?)</tr>", section).group(1)  # type: ignore[union-attr]
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
        assert cells[:5] == [f"{entry['violations']:,}", f"{entry['rate']:.2%}", str(first["min"]),
                             f"{first['mean']:.4g}", str(first["max"])]
    svg = re.search(r'<figure class="chart constraint-chart".*?</figure>', section, re.S).group(0)  # type: ignore[union-attr]
    assert svg.count("runway_buffer") >= 1 and svg.count("cash_positive") >= 1  # one rising curve each


def test_assumptions_lint_and_warnings(saas_html: str) -> None:
    doc = Page(saas_html)
    text = " ".join(doc.text)
    assert "Normal(μ=$120, σ=$10)" in text and "billing_system" in text and "cohort_analysis" in text
    lint_rows = [e for e in doc.elements if e[0] == "table" and e[1].get("class") == "lint"]
    assert len(lint_rows) == 1 and "L006" in text  # parameters without an owner
    warnings = re.search(r'<section id="warnings">.*?</section>', saas_html, re.S).group(0)  # type: ignore[union-attr]
    assert "runway_buffer (warning): violated in" in warnings


def test_deterministic_report_draws_lines_and_no_histogram(revenue_html: str) -> None:
    doc = Page(revenue_html)
    fans = doc.charts("fan")
    assert [f["data-var"] for f in fans] == list(revenue_det().variables)
    assert not doc.charts("histogram") and 'id="histograms"' not in revenue_html
    svgs = re.findall(r'<figure class="chart fan".*?</figure>', revenue_html, re.S)
    for svg in svgs:
        assert f"stroke: {LINE}" in svg and BAND_OUTER not in svg and BAND_INNER not in svg
    assert "No constraint was violated." in revenue_html or doc.charts("constraint-chart")


def test_report_is_offline(saas_html: str, revenue_html: str) -> None:
    """No script, stylesheet link, frame, font or image is fetched: every link stays inside the page."""
    for text in (saas_html, revenue_html):
        doc = Page(text)
        tags = {tag for tag, _, _ in doc.elements}
        assert not tags & {"script", "link", "iframe", "img", "object", "embed", "audio", "video", "base"}
        for tag, attrs, _ in doc.elements:
            for key in ("src", "href", "xlink:href", "action", "srcset", "data"):
                value = attrs.get(key)
                assert value is None or value.startswith("#"), (tag, key, value)
        assert "http://" not in text and "https://" not in text  # not even an SVG namespace or metadata URL
        assert "@import" not in text and "@font-face" not in text and "url(" not in text.replace("url(#", "")


HOSTILE = """model Hostile {
  param price: Currency<USD> ~ Normal(μ=$100, σ=$10) {
    source: "<script>alert('src')</script>",
    method: "observed",
    confidence: 0.9,
    owner: "a&b <i>",
    notes: "\\"quoted\\" & <b>bold</b>"
  }
  var label = "<svg onload=alert(1)>"
  var revenue: TimeSeries<Currency<USD>>
  revenue[t] = price * (t + 1)
  constraint cap {
    revenue[t] <= $500
      with severity(warning)
      with message("<img src=x onerror=alert(2)> at {t}")
  }
}
"""


def _assert_escaped(html: str, *strings: str) -> None:
    for s in strings:
        assert s not in html, s
    assert "<script" not in html and "<img" not in html and "onload=" not in html.replace("onload=alert", "")


def test_model_strings_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "hostile.pel"
    path.write_text(HOSTILE, encoding="utf-8")
    for mode in ("deterministic", "monte_carlo"):
        result = pel.compile(path).run(mode, runs=300)
        html = _model_report(result, path)
        _assert_escaped(html, "<script>alert('src')</script>", "<i>", "<b>bold</b>", "<svg onload")
        assert "&lt;script&gt;alert(&#x27;src&#x27;)&lt;/script&gt;" in html
        assert "&lt;img src=x onerror=alert(2)&gt; at 5" in html
        assert "&quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
        assert "a&amp;b &lt;i&gt;" in html


def test_results_file_strings_are_escaped_even_in_chart_titles() -> None:
    """A results file is any JSON: its model name and variable names reach titles, attributes and SVG text."""
    doc = json.loads(saas_mc().to_json())
    doc["model"]["name"] = "<script>alert(1)</script>"
    doc["<svg onload=alert(3)> $x$"] = doc.pop("mrr")
    doc["constraints"]['"><img src=x>'] = doc["constraints"].pop("cash_positive")
    html = build.report_html(result_from_dict(doc, "r.json"), page.ReportContext(source="r.json"))
    _assert_escaped(html, "<script>alert(1)</script>", "<svg onload", '"><img')
    fan = Page(html).charts("fan")[-1]  # the renamed output comes last
    assert fan["data-var"] == "<svg onload=alert(3)> $x$"  # the attribute holds the name, escaped in the file
    assert "&lt;svg onload=alert(3)&gt; $x$" in html  # the title, as SVG text (matplotlib's own escaping)


def test_chart_limit_and_long_runs_stay_small() -> None:
    r = pel.compile(REVENUE).run("deterministic", steps=8_000)
    ctx = page.ReportContext(source="x", max_charts=1)
    html = build.report_html(r, ctx)
    assert len(Page(html).charts("fan")) == 1
    assert "1 of 2 outputs are drawn" in html
    assert len(html) < 400_000
    drawn = charts._thin(8_001)  # 8,001 steps drawn at every 9th and the last
    assert len(drawn) == 890 and drawn[-1] == 8_000 and np.all(np.diff(drawn)[:-1] == 9)
    assert list(charts._thin(61)) == list(range(61))


def test_same_result_gives_the_same_report_bytes() -> None:
    ctx = page.ReportContext(source="r.json")
    assert build.report_html(saas_mc(), ctx) == build.report_html(saas_mc(), ctx)


def test_tornado_rows_hook_draws_a_sensitivity_section() -> None:
    rows = [TornadoRow("arpu", 0.9e6, 1.2e6), TornadoRow("churn_rate", 1.3e6, 0.7e6)]
    html = build.report_html(saas_mc(), page.ReportContext(source="x", tornado=rows, tornado_output="mrr"))
    section = re.search(r'<section id="sensitivity">.*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    assert len(Page(section).charts("tornado")) == 1 and "churn_rate" in section and "600,000" in section
    assert 'id="sensitivity"' not in build.report_html(saas_mc(), page.ReportContext(source="x"))


def test_histograms_from_a_run_count_every_path_and_from_a_file_use_percentiles() -> None:
    r = saas_mc()
    mrr = r["mrr"]
    kept = r.horizon_histograms["mrr"]
    assert kept.source == "paths" and kept.counts.sum() + kept.below + kept.above == mrr.n[-1]
    from pel.report.histograms import horizon_histogram

    h = horizon_histogram(r, "mrr")
    assert h is not None and h.source == "paths"
    assert np.isclose((h.density * np.diff(h.edges)).sum() + h.below + h.above, 1.0)
    back = result_from_dict(json.loads(r.to_json()))
    f = horizon_histogram(back, "mrr")
    assert f is not None and f.source == "percentiles"
    assert list(f.edges) == [getattr(mrr, q)[-1] for q in ("p5", "p10", "p25", "p50", "p75", "p90", "p95")]
    assert np.allclose(f.density * np.diff(f.edges), [0.05, 0.15, 0.25, 0.25, 0.15, 0.05])
    html = build.report_html(back, page.ReportContext(source="r.json"))
    assert "bars between the p5, p10, p25, p50, p75, p90 and p95" in html
    assert "Per-step violation rates are kept by a run" in html


def test_first_violations_per_step_agree_with_the_constraint_summary() -> None:
    r = saas_mc()
    for name, entry in (r.constraints or {}).items():
        counts = r.first_violations[name]
        assert len(counts) == r.steps + 1 and counts.sum() == entry["violations"]
        hit = np.flatnonzero(counts)
        first = entry["first_violation_t"]
        assert hit[0] == first["min"] and hit[-1] == first["max"]
        assert np.isclose((counts * np.arange(r.steps + 1)).sum() / counts.sum(), first["mean"])


def test_sketch_runs_histogram_the_sketch() -> None:
    r = pel.compile(SAAS).run("monte_carlo", runs=20_000, steps=24, memory_limit=100_000)
    assert r.percentiles and r.percentiles["method"] == "sketch"
    h = r.horizon_histograms["cash"]
    assert h.source == "sketch" and h.counts.sum() + h.below + h.above == r["cash"].n[-1]
