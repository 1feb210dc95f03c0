"""The assumption register shows every value in its parameter's declared unit: results `assumptions`,
`pel assumptions` and the server's parameters, for rates, flows, durations, arrays and distributions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import pel
from pel import overrides
from pel.cli import main

PROV = '{ source: "s", method: "observed", confidence: 0.9 }'
UNITS = f"""model Units {{
  param yearly: Rate per Year = 0.12 / 1y {PROV}
  param monthly: Rate per Month = 0.01 / 1mo {PROV}
  param lead: Duration<Year> = 2y {PROV}
  param wait: Duration = 2y {PROV}
  param outage: Duration<Hour> = 36h {PROV}
  param budget: Currency<USD> per Year = $1_200 / 1y {PROV}
  param price: Currency<USD> = $5 {PROV}
  param steps: Array<Rate per Year> = [0.12 / 1y, 0.24 / 1y] {PROV}
  param spread: Rate per Year ~ Uniform(low=0.06/1y, high=0.18/1y) {PROV}
  param churn: Fraction ~ Beta(α=3, β=97) {PROV}
  var x: TimeSeries<Fraction>
  x[t] = yearly * 1mo + monthly * 1mo + spread * 1mo + churn
  simulate for 3mo
}}
"""
# (value in the declared unit, unit label) per parameter
DECLARED = {
    "yearly": (0.12, "1/Year"), "monthly": (0.01, "1/Month"), "lead": (2.0, "Year"), "wait": (24.0, "Month"),
    "outage": (36.0, "Hour"), "budget": (1200.0, "USD/Year"), "price": (5.0, "USD"),
    "steps": ([0.12, 0.24], "1/Year"), "spread": (0.12, "1/Year"), "churn": (0.03, ""),
}


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("units") / "units.pel"
    path.write_text(UNITS, encoding="utf-8")
    return path


def test_results_assumptions_are_in_declared_units(units: Path) -> None:
    res = pel.compile(units).run()
    shown = {a["name"]: (a["value"], a["unit"]) for a in res.to_dict()["assumptions"]}
    assert shown == DECLARED
    mc = pel.compile(units).run("monte_carlo", runs=20)
    assert {a["name"]: (a["value"], a["unit"]) for a in mc.to_dict()["assumptions"]} == DECLARED


def test_overrides_show_as_given(units: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "r.json"
    assert main(["run", str(units), "--quiet", "-o", str(out), "--set", "yearly=0.24", "--set", "lead=3y",
                 "--set", "outage=48", "--set", "budget=$2400"]) == 0
    shown = {a["name"]: a["value"] for a in json.loads(out.read_text(encoding="utf-8"))["assumptions"]}
    assert (shown["yearly"], shown["lead"], shown["outage"], shown["budget"]) == (0.24, 3.0, 48.0, 2400.0)


def test_pel_assumptions_central_is_in_declared_units(units: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["assumptions", str(units), "--format", "json"]) == 0
    rows = {a["name"]: a for a in json.loads(capsys.readouterr().out)["assumptions"]}
    for name, (value, unit) in DECLARED.items():
        assert rows[name]["unit"] == unit
        if not isinstance(value, list):
            assert rows[name]["central"] == value, name
    assert rows["spread"]["distribution"] == "Uniform(low=0.06 / 1y, high=0.18 / 1y)"  # as written


def test_the_ir_keeps_step_units_and_an_arrays_element_unit(units: Path) -> None:
    model = pel.compile(units).program.model
    params = {p.name: p for p in model.params}
    assert params["yearly"].central == pytest.approx(0.01)  # the kernels' per-month value
    assert (params["steps"].type.kind, params["steps"].type.unit, params["steps"].type.per) == ("Array", "1/Year",
                                                                                                 "Year")


@pytest.mark.parametrize("name", list(DECLARED))
def test_to_steps_and_back(units: Path, name: str) -> None:
    model = pel.compile(units).program.model
    p = next(p for p in model.params if p.name == name)
    for value in (0.12, 7.0, 1e-9, -3.5):
        assert overrides.to_declared(p.type, overrides.to_steps(p.type, value, model), model) == value


def test_server_parameters_are_in_declared_units(units: Path) -> None:
    pytest.importorskip("fastapi")
    import httpx

    from tests.server.conftest import LiveServer, make_config

    with LiveServer(make_config(units.parent)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        params = {p["name"]: p for p in client.get("/models/units").json()["parameters"]}
    assert (params["yearly"]["central"], params["yearly"]["unit"]) == (0.12, "1/Year")
    assert (params["lead"]["central"], params["spread"]["central"]) == (2.0, 0.12)
