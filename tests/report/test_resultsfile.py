"""Results files read back into a Result: an exact round trip, and coded errors (E1001, E1002) on broken files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pel.report.errors import ReportError
from pel.report.resultsfile import read_results, result_from_dict
from tests.report.common import revenue_det, saas_mc


@pytest.mark.parametrize("make", [saas_mc, revenue_det], ids=["monte_carlo", "deterministic"])
def test_a_results_file_reads_back_to_the_same_file(make, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "r.json"
    text = make().to_json(str(path))
    back = read_results(path)
    assert back.to_json() == text
    assert list(back.variables) == list(make().variables)


def test_constant_text_and_boolean_outputs_read_back() -> None:
    doc = json.loads(revenue_det().to_json())
    doc["label"] = {"value": "EMEA"}
    doc["flag"] = [{"t": 0, "value": True}, {"t": 1, "value": False}]
    doc["npv"] = {"value": 12.5}
    r = result_from_dict(doc)
    assert r["label"].text == "EMEA" and r["flag"].boolean and list(r["flag"].value) == [1.0, 0.0]
    assert not r["npv"].time_varying and r["npv"].value[-1] == 12.5
    assert json.loads(json.dumps(r.to_dict())) == doc


def _doc() -> dict:
    return json.loads(revenue_det().to_json())


def _set(path: tuple, value: object) -> dict:
    doc = _doc()
    target = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


BROKEN = [  # (document, code, words of the message)
    ([1, 2], "E1002", "`(top level)` must be an object"),
    (_set(("status",), KeyError), "E1002", "`status` is missing"),
    (_set(("status",), "great"), "E1002", "`status` must be one of"),
    (_set(("mode",), "fast"), "E1002", "`mode` must be one of"),
    (_set(("model", "name"), 3), "E1002", "`model.name` must be text"),
    (_set(("steps",), -1), "E1002", "`steps` must be a whole number >= 0"),
    (_set(("seed",), 1.5), "E1002", "`seed` must be a whole number"),
    (_set(("warnings",), {}), "E1002", "`warnings` must be a list"),
    (_set(("mrr", 3, "value"), "lots"), "E1002", '`mrr[3].value` must be a number or null, got "lots"'),
    (_set(("mrr", 3, "t"), 1), "E1002", "`mrr[3].t` must be a step after the previous one"),
    (_set(("mrr", 3), "x"), "E1002", "`mrr[3]` must be an object"),
    (_set(("mrr",), 7), "E1002", "`mrr` must be a list of points or an object"),
    (_set(("arr",), {"mean": 1}), "E1002", "`arr.value` is missing"),
]


@pytest.mark.parametrize(("doc", "code", "words"), BROKEN)
def test_a_broken_document_is_refused_with_the_key_named(doc: object, code: str, words: str,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ReportError) as err:
        read_results(path)
    assert err.value.code == code
    assert words in err.value.render()
    assert err.value.render().startswith(f"{path}: error[{code}]")


def test_a_monte_carlo_file_needs_its_runs(tmp_path: Path) -> None:
    doc = json.loads(saas_mc().to_json())
    doc["runs"] = 0
    with pytest.raises(ReportError, match=r"`runs` must be a whole number >= 1"):
        result_from_dict(doc, "x.json")
    doc = json.loads(saas_mc().to_json())
    doc["constraints"]["cash_positive"]["rate"] = "high"
    with pytest.raises(ReportError, match=r"constraints.cash_positive.rate"):
        result_from_dict(doc, "x.json")


def test_unreadable_files_are_e1001_with_line_and_column(tmp_path: Path) -> None:
    cases = {
        "missing.json": None,
        "trunc.json": b'{\n  "status": "success",\n  "mode": ',
        "latin.json": b'{"a":\n "caf\xe9"}',
    }
    for name, data in cases.items():
        path = tmp_path / name
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(ReportError) as err:
            read_results(path)
        assert err.value.code == "E1001", name
    with pytest.raises(ReportError) as err:
        read_results(tmp_path / "trunc.json")
    assert err.value.render().startswith(f"{tmp_path / 'trunc.json'}:3:")
    with pytest.raises(ReportError) as err:
        read_results(tmp_path / "latin.json")
    assert err.value.render().startswith(f"{tmp_path / 'latin.json'}:2:6: error[E1001]: the results file is not UTF-8")
    with pytest.raises(ReportError) as err:
        read_results(tmp_path)
    assert err.value.code == "E1001"


def test_the_model_version_reads_back_and_shows_escaped() -> None:
    from pel.report import build, page

    doc = json.loads(saas_mc().to_json())
    doc["model"]["version"] = "1.4.0<b>"
    r = result_from_dict(doc, "r.json")
    assert r.model_version == "1.4.0<b>" and json.loads(r.to_json()) == doc
    html = build.report_html(r, page.ReportContext(source="r.json"))
    assert "<th>Model version</th><td>1.4.0&lt;b&gt;</td>" in html
    doc["model"]["version"] = 3
    with pytest.raises(ReportError, match="`model.version` must be text or null"):
        result_from_dict(doc, "r.json")
