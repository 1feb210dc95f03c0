"""The notebook views, in a real kernel: a small notebook executed with nbclient, its outputs checked; and the
plain reprs and `to_pandas(wide=True)` in process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import pel
from tests.conftest import REPO
from tests.report.common import SAAS, revenue_det, saas_mc

nbformat = pytest.importorskip("nbformat", reason="the notebook test needs nbformat (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="the notebook test needs nbclient (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="the notebook test needs ipykernel (pip install -e '.[dev]')")
pytest.importorskip("matplotlib", reason="the notebook charts need matplotlib (pip install -e '.[dev]')")

CELLS = [
    f"import sys; sys.path.insert(0, {str(REPO)!r})\nimport pel",
    f"model = pel.compile({str(SAAS)!r})\nmodel",
    'res = model.run("monte_carlo", runs=500, steps=24, seed=1)\nres',
    'ax = res.plot("mrr")',
    "print(repr(res)); print(repr(res['mrr'])); print(repr(model.parameters[1]))",
    "res.to_pandas(wide=True).shape",
]


def _outputs(cell: dict, kind: str) -> str:
    """Everything of one MIME type (or stream text) a cell showed."""
    parts = []
    for out in cell["outputs"]:
        if out["output_type"] == "stream" and kind == "stream":
            parts.append(out["text"])
        elif out["output_type"] in ("display_data", "execute_result") and kind in out["data"]:
            parts.append(out["data"][kind])
    return "".join(parts)


def test_a_notebook_shows_model_result_chart_and_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # jupyter_core's own deprecation warning otherwise
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=dict(os.environ))
    cells = nb.cells
    model_html = _outputs(cells[1], "text/html")
    assert "<table" in model_html and "arpu" in model_html and "Normal(μ=$120, σ=$10)" in model_html
    assert "billing_system" in model_html and "Currency&lt;USD&gt;" in model_html
    result_html = _outputs(cells[2], "text/html")
    assert "SaasBusiness" in result_html and "500 paths" in result_html and "<svg" in result_html
    assert result_html.count("<svg") == 1 and result_html.count('id="pel-') > 0
    for name in ("customers", "churned", "mrr", "gross_profit"):  # the four outputs drawn
        assert f">{name}<" in result_html
    assert _outputs(cells[3], "image/png")  # the Axes' figure, shown by the inline backend
    printed = _outputs(cells[4], "stream")
    assert printed.startswith("<pel.Result SaasBusiness monte_carlo 500 paths t=0..24 status=")
    assert "<pel.VarResult mrr t=0..24: value[24] = " in printed
    assert "<pel.Param arpu: Currency<USD> ~ Normal(μ=$120, σ=$10) (billing_system, fitted" in printed
    assert _outputs(cells[5], "text/plain") == "(25, 121)"  # 11 outputs x 11 statistics (value, 9, se)


def test_reprs_are_short_and_plain() -> None:
    r = saas_mc()
    assert len(repr(r)) < 160 and "… 7 more" in repr(r) and "\n" not in repr(r)
    assert repr(r["cash"]).startswith("<pel.VarResult cash t=0..60: value[60] = ") and ", p5 " in repr(r["cash"])
    assert repr(revenue_det()["mrr"]).count("p5") == 0
    for p in pel.compile(SAAS).parameters:
        assert repr(p).startswith(f"<pel.Param {p.name}: ") and len(repr(p)) < 160


def test_to_pandas_wide() -> None:
    pytest.importorskip("pandas", reason="to_pandas needs pandas")
    det = revenue_det().to_pandas(wide=True)
    assert list(det.columns) == ["mrr", "arr"] and list(det.index) == list(range(25))
    assert det.loc[24, "mrr"] == revenue_det()["mrr"].value[24]
    mc = saas_mc().to_pandas(wide=True)
    assert mc[("mrr", "p95")].iloc[-1] == saas_mc()["mrr"].p95[-1]
    assert mc.columns.get_level_values(0)[0] == "customers" and len(mc) == 61


def test_model_html_lists_every_parameter_with_provenance() -> None:
    html = pel.compile(SAAS)._repr_html_()
    for p in pel.compile(SAAS).parameters:
        assert f"<td>{p.name}</td>" in html and p.provenance.source in html


def test_result_html_without_matplotlib_still_shows_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    html = saas_mc()._repr_html_()
    assert "<table" in html and "<svg" not in html and "pel-lang[plot]" in html
    from pel.report.errors import ReportError

    with pytest.raises(ReportError, match="E1000"):
        saas_mc().plot("mrr")
