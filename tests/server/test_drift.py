"""Parameter drift in `pel serve`: `GET /models/{name}/drift` on the stored actuals (the same figures as `pel drift`),
which parameters it watches, its refusals, the drift gauges, the estimates it records for the register (kept across
restarts and shared with the command line), and the alert rules of docs/serve.md on the gauges."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import pel
from pel.cli import main as pel_main
from tests.conftest import REPO

from .conftest import MODELS, LiveServer, copy_models, make_config
from .test_alerts import Scrapes, _promtool, _yaml_block, promtool_test

MakeClient = Callable[..., httpx.Client]
GROWTH = 0.15  # growth_rate of tests/server/models/revenue.pel, per month


def _mrr(growth_after: float | None = None, change_at: int = 6, last: int = 12) -> list[dict]:
    """The revenue model's own mrr for t = 0..last; from `change_at` on it grows at `growth_after` instead."""
    values = [float(x) for x in pel.load(MODELS / "revenue.pel").run("deterministic")["mrr"].value]
    rows, v = [], values[0]
    for t in range(last + 1):
        if t > 0:
            g = growth_after if growth_after is not None and t > change_at else GROWTH
            v = v * (1 + g)
        rows.append({"t": t, "variable": "mrr", "value": v if growth_after is not None else values[t]})
    return rows


def _drift_gauges(c: httpx.Client) -> dict[tuple[str, str], float]:
    r = c.get("/metrics")
    assert r.status_code == 200
    return {(s.name, s.labels["parameter"]): s.value for f in text_string_to_metric_families(r.text)
            for s in f.samples if s.name.startswith("pel_parameter_drift")}


def test_no_drift_when_the_actuals_follow_the_model(make_client: MakeClient) -> None:
    c = make_client(drift_window=6)
    assert c.post("/models/revenue/actuals", json={"rows": _mrr()}).status_code == 200
    r = c.get("/models/revenue/drift")
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["parameters"]) == ["growth_rate"]  # the default: provenance method "fitted"
    p = body["parameters"]["growth_rate"]
    assert p["verdict"] == "ok" and body["drifted"] == []
    assert body["windows"] == [[0, 5], [6, 11], [7, 12]]
    assert p["latest"]["value"] == pytest.approx(GROWTH, rel=1e-6)
    assert p["distance_se"] == pytest.approx(0.0, abs=1e-3)
    gauges = _drift_gauges(c)
    assert gauges[("pel_parameter_drift", "growth_rate")] == pytest.approx(0.0, abs=1e-3)
    assert gauges[("pel_parameter_drift_detected", "growth_rate")] == 0.0
    # the register of the model shows the estimate beside the declared value
    params = {q["name"]: q for q in c.get("/models/revenue").json()["parameters"]}
    fitted = params["growth_rate"]["fitted"]
    assert fitted["kind"] == "drift" and fitted["verdict"] == "ok" and fitted["window"] == [7, 12]
    assert fitted["value"] == pytest.approx(GROWTH, rel=1e-6) and fitted["data"] == "/models/revenue/actuals"
    assert params["initial_mrr"]["fitted"] is None
    listed = {m["name"]: m for m in c.get("/models").json()["models"]}
    assert {q["name"]: q["fitted"] for q in listed["revenue"]["parameters"]}["growth_rate"] == fitted


def test_a_growth_change_half_way_is_drift(make_client: MakeClient) -> None:
    c = make_client(drift_window=6)
    c.post("/models/revenue/actuals", json={"rows": _mrr(growth_after=0.05)})
    body = c.get("/models/revenue/drift").json()
    p = body["parameters"]["growth_rate"]
    assert body["drifted"] == ["growth_rate"] and p["verdict"] == "drift"
    assert p["estimates"][0]["value"] == pytest.approx(GROWTH, rel=1e-4)  # the first window: as declared
    assert p["distance_se"] < -3  # the latest: far below
    gauges = _drift_gauges(c)
    assert gauges[("pel_parameter_drift", "growth_rate")] == pytest.approx(p["distance_se"])
    assert gauges[("pel_parameter_drift_detected", "growth_rate")] == 1.0


def test_the_server_says_what_pel_drift_says(make_client: MakeClient, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    rows = _mrr(growth_after=0.10)
    c = make_client(drift_window=4)
    c.post("/models/revenue/actuals", json={"rows": rows})
    served = c.get("/models/revenue/drift", params={"stride": 2, "fit": "growth_rate,initial_mrr"})
    assert served.status_code == 200, served.text
    (tmp_path / "mrr.csv").write_text("t,variable,value\n" + "".join(f"{r['t']},mrr,{r['value']!r}\n" for r in rows))
    capsys.readouterr()
    code = pel_main(["drift", str(MODELS / "revenue.pel"), "--data", str(tmp_path / "mrr.csv"), "--fit",
                     "growth_rate,initial_mrr", "--window", "4", "--stride", "2", "--format", "json", "--threads", "1"])
    assert code == 0
    cli = json.loads(capsys.readouterr().out)
    got = served.json()
    for doc in (got, cli):
        doc.pop("data")
    assert got == cli


def test_which_parameters_are_watched(make_client: MakeClient) -> None:
    c = make_client(drift=("revenue:initial_mrr", "nothere", "pricing_mc:zzz"), drift_window=6)
    c.post("/models/revenue/actuals", json={"rows": _mrr()})
    assert list(c.get("/models/revenue/drift").json()["parameters"]) == ["initial_mrr"]
    c = make_client(drift=("growth_rate",), drift_window=6)
    c.post("/models/revenue/actuals", json={"rows": _mrr()})
    assert list(c.get("/models/revenue/drift").json()["parameters"]) == ["growth_rate"]


def test_refusals(make_client: MakeClient) -> None:
    c = make_client(drift_window=6)
    r = c.get("/models/revenue/drift")
    assert (r.status_code, r.json()["code"]) == (409, "E0908")  # no actuals yet
    c.post("/models/revenue/actuals", json={"rows": _mrr()[:4]})
    r = c.get("/models/revenue/drift")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "E0913", "window")  # shorter than a window
    for params, status, code in [({"fit": "nope"}, 422, "E0909"), ({"fit": "growth_rate", "window": 0}, 422, "E0011"),
                                 ({"stride": -1}, 422, "E0011")]:
        r = c.get("/models/revenue/drift", params=params)
        assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert c.get("/models/nope/drift").status_code == 404
    c = make_client(drift=("revenue:growth_rate",))
    c.post("/models/pricing_mc/actuals", json={"rows": [{"t": 0, "variable": "revenue", "value": 1.0}]})
    r = c.get("/models/pricing_mc/drift")
    assert (r.status_code, r.json()["code"], r.json()["field"]) == (409, "E0909", "fit")  # nothing watched
    c = make_client(token="s3cret")
    assert c.get("/models/revenue/drift").status_code == 401


def test_estimates_survive_a_restart_and_meet_the_command_line(make_client: MakeClient, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    first = make_client(state_dir=state, drift_window=6)
    first.post("/models/revenue/actuals", json={"rows": _mrr(growth_after=0.05)})
    assert first.get("/models/revenue/drift").status_code == 200
    second = make_client(state_dir=state)
    params = {q["name"]: q for q in second.get("/models/revenue").json()["parameters"]}
    fitted = params["growth_rate"]["fitted"]
    assert fitted["verdict"] == "drift" and fitted["distance_se"] < -3
    # `pel assumptions --state` reads the same folder (the model's name there is its file name, as served)
    capsys.readouterr()
    assert pel_main(["assumptions", str(MODELS / "revenue.pel"), "--state", str(state), "--format", "json"]) == 0
    register = {a["name"]: a for a in json.loads(capsys.readouterr().out)["assumptions"]}
    assert register["growth_rate"]["fitted"]["value"] == pytest.approx(fitted["value"])
    assert register["initial_mrr"]["fitted"] is None
    assert pel_main(["assumptions", str(MODELS / "revenue.pel"), "--state", str(state)]) == 0
    md = capsys.readouterr().out
    assert "| Fitted |" in md and "(drift check: drifted, " in md


@pytest.mark.slow
def test_drift_alerts_fire(tmp_path: Path) -> None:
    """docs/serve.md's drift rules: silent while the actuals follow the model, firing an hour after growth halves."""
    _promtool()  # skips before the server starts when promtool is absent
    rules = _yaml_block((REPO / "docs" / "serve.md").read_text(encoding="utf-8"), "# alerting/pel_drift.yml")
    minutes = 70
    config = make_config(copy_models(tmp_path / "models"), drift_window=6)
    with LiveServer(config) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        scrapes = Scrapes(c)
        assert c.post("/models/revenue/actuals", json={"rows": _mrr()}).status_code == 200
        assert c.get("/models/revenue/drift").status_code == 200
        for _ in range(minutes):
            scrapes.take()
        assert c.post("/models/revenue/actuals", json={"rows": _mrr(growth_after=0.075)}).status_code == 200
        drifted = c.get("/models/revenue/drift").json()["parameters"]["growth_rate"]
        for _ in range(minutes):
            scrapes.take()
    labels = {"model": "revenue", "parameter": "growth_rate", "severity": "warning"}
    distance = f"{abs(drifted['distance_se']):.1f}"
    promtool_test(tmp_path, rules, scrapes, [
        *({"eval_time": f"{minutes - 1}m", "alertname": a, "exp_alerts": []}
          for a in ("ParameterDrift", "ParameterOutsideDeclaredRange")),
        {"eval_time": f"{minutes + 30}m", "alertname": "ParameterDrift", "exp_alerts": []},
        {"eval_time": f"{2 * minutes - 1}m", "alertname": "ParameterDrift",
         "exp_alerts": [{"exp_labels": labels, "exp_annotations": {
             "summary": f"Model revenue: growth_rate is {distance} standard errors away from its declared value"}}]},
        {"eval_time": f"{2 * minutes - 1}m", "alertname": "ParameterOutsideDeclaredRange",
         "exp_alerts": [{"exp_labels": labels, "exp_annotations": {
             "summary": "Model revenue: the latest estimate of growth_rate breaks its declared assumption; "
                        "recalibrate"}}]},
    ])


def test_stored_actuals_download_as_csv_and_feed_pel_calibrate(make_client: MakeClient, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    c = make_client()
    assert c.get("/models/revenue/actuals").text == "t,variable,value\n"
    rows = _mrr(growth_after=0.10, change_at=0)  # growth 10% a month throughout
    c.post("/models/revenue/actuals", json={"rows": rows})
    r = c.get("/models/revenue/actuals")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "t,variable,value" and len(lines) == 14 and lines[1] == f"0,mrr,{rows[0]['value']!r}"
    (tmp_path / "history.csv").write_bytes(r.content)
    capsys.readouterr()
    assert pel_main(["calibrate", str(MODELS / "revenue.pel"), "--data", str(tmp_path / "history.csv"),
                     "--fit", "growth_rate", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"]["growth_rate"]["value"] == pytest.approx(0.10, rel=1e-6)
    assert c.get("/models/nope/actuals").status_code == 404
