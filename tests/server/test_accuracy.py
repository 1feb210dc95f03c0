"""Actuals posted to `pel serve` and the accuracy of its models against them: storage (JSON and CSV bodies,
coded refusals, replacement, persistence with --state, concurrent writers), the backtest figures (the same as
`pel backtest`), the prediction error metrics and the alert rule of docs/serve.md on them."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import pel
from pel.cli import main as pel_main
from pel.monitor.state import StateStore
from tests.conftest import REPO

from .conftest import MODELS, LiveServer, copy_models, make_config
from .test_alerts import Scrapes, _promtool, _yaml_block, promtool_test

MakeClient = Callable[..., httpx.Client]


def _predicted(name: str = "revenue.pel", var: str = "mrr") -> list[float]:
    return [float(x) for x in pel.load(MODELS / name).run("deterministic")[var].value]


def _rows(scale: float = 1.0, ts: range = range(0, 6), var: str = "mrr") -> list[dict]:
    values = _predicted()
    return [{"t": t, "variable": var, "value": values[t] * scale} for t in ts]


def _gauges(c: httpx.Client) -> dict[tuple[str, tuple], float]:
    r = c.get("/metrics")
    assert r.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(r.text) for s in f.samples
            if s.name.startswith("pel_prediction")}


def test_json_rows_are_stored_and_replaced(make_client: MakeClient) -> None:
    c = make_client()
    r = c.post("/models/revenue/actuals", json={"rows": _rows(1.1)})
    assert r.status_code == 200, r.text
    assert r.json() == {"model": "revenue", "stored": 6, "total": 6}
    # t = 4, 5 again (replaced) and 6, 7 new
    r = c.post("/models/revenue/actuals", json={"rows": _rows(1.0, range(4, 8))})
    assert r.json() == {"model": "revenue", "stored": 4, "total": 8}
    acc = c.get("/models/revenue/accuracy").json()
    points = {p["t"]: p for p in acc["variables"]["mrr"]["points"]}
    assert sorted(points) == list(range(8))
    assert points[5]["error"] == pytest.approx(0.0, abs=1e-6)  # replaced by the exact value
    assert points[2]["error"] == pytest.approx(-0.1 * points[2]["predicted"] / 1.0, rel=1e-6)
    # the actuals of one model are not another's
    assert c.get("/models/revenue_ir/accuracy").status_code == 409


def test_csv_body_is_read_as_pel_backtest_reads_it(make_client: MakeClient) -> None:
    c = make_client()
    csv = "t,mrr,cash\n0,\"$50,000\",$100000\n1,57000,\n"
    r = c.post("/models/revenue/actuals", content=csv, headers={"Content-Type": "text/csv; charset=utf-8"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 3 and r.json()["total"] == 3
    acc = c.get("/models/revenue/accuracy").json()
    assert set(acc["variables"]) == {"mrr", "cash"}
    assert acc["variables"]["mrr"]["points"][1]["actual"] == 57000


@pytest.mark.parametrize(("row", "code", "field"), [
    ({"t": 1, "variable": "mrrr", "value": 1.0}, "E0903", "rows.1.variable"),
    ({"t": 13, "variable": "mrr", "value": 1.0}, "E0904", "rows.1.t"),
    ({"t": -1, "variable": "mrr", "value": 1.0}, "E0904", "rows.1.t"),
    ({"t": 1, "variable": "mrr", "value": 1e999}, "E0905", "rows.1.value"),
    ({"t": 1, "variable": "mrr", "value": float("nan")}, "E0905", "rows.1.value"),
    ({"t": 0, "variable": "mrr", "value": 2.0}, "E0907", "rows.1"),
    ({"t": 1, "variable": "mrr"}, "E0011", "rows.1.value"),
    ({"t": "one", "variable": "mrr", "value": 1.0}, "E0011", "rows.1.t"),
])
def test_bad_json_rows_are_refused_naming_the_field(make_client: MakeClient, row: dict, code: str,
                                                    field: str) -> None:
    c = make_client()
    body = json.dumps({"rows": [{"t": 0, "variable": "mrr", "value": 1.0}, row]})
    r = c.post("/models/revenue/actuals", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert (r.json()["code"], r.json()["field"]) == (code, field)
    assert c.get("/models/revenue/accuracy").json()["code"] == "E0908"  # nothing of a refused body is stored


def test_bad_bodies(make_client: MakeClient) -> None:
    c = make_client()
    for body, code, field in [({"rows": []}, "E0908", "rows"), ({}, "E0011", "rows"),
                              ({"rows": [], "x": 1}, "E0011", "x")]:
        r = c.post("/models/revenue/actuals", json=body)
        assert (r.status_code, r.json()["code"], r.json()["field"]) == (422, code, field), r.text
    r = c.post("/models/revenue/actuals", content="{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (422, "E0011")
    assert c.post("/models/nope/actuals", json={"rows": _rows()}).status_code == 404


def test_csv_errors_come_back_with_code_line_and_column(make_client: MakeClient) -> None:
    c = make_client()
    r = c.post("/models/revenue/actuals", content="t,variable,value\n0,mrr,50000\n1,mrrr,51000\n",
               headers={"Content-Type": "text/csv"})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "E0903" and body["field"] == "body"
    assert "actuals.csv:3:3" in body["detail"]
    assert body["errors"][0]["line"] == 3 and body["errors"][0]["column"] == 3
    r = c.post("/models/revenue/actuals", content="t,variable,value\n99,mrr,1\n", headers={"Content-Type": "text/csv"})
    assert (r.status_code, r.json()["code"]) == (422, "E0904")


def test_accuracy_without_actuals_is_409(make_client: MakeClient) -> None:
    r = make_client().get("/models/revenue/accuracy")
    assert r.status_code == 409 and r.json()["code"] == "E0908" and r.json()["field"] == "name"


def test_actuals_persist_across_a_restart_with_state(make_client: MakeClient, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = make_client(state_dir=state)
    assert first.post("/models/revenue/actuals", json={"rows": _rows(1.2)}).status_code == 200
    before = first.get("/models/revenue/accuracy").json()
    first.server.__exit__()  # type: ignore[attr-defined]
    assert (state / "state.sqlite3").is_file()
    second = make_client(state_dir=state)
    after = second.get("/models/revenue/accuracy")
    assert after.status_code == 200 and after.json() == before
    # without --state nothing survives
    third = make_client()
    assert third.get("/models/revenue/accuracy").status_code == 409


def test_concurrent_posts_from_several_threads(make_client: MakeClient, tmp_path: Path) -> None:
    c = make_client(state_dir=tmp_path / "state")
    url = str(c.base_url)
    failures: list[str] = []

    def post(k: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as own:
            for t in range(13):
                rows = [{"t": t, "variable": "mrr", "value": 1000.0 * k + t},
                        {"t": t, "variable": "cash", "value": float(k)}]
                r = own.post("/models/revenue/actuals", json={"rows": rows})
                if r.status_code != 200:
                    failures.append(r.text)

    threads = [threading.Thread(target=post, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    acc = c.get("/models/revenue/accuracy").json()
    assert [p["t"] for p in acc["variables"]["mrr"]["points"]] == list(range(13))
    assert acc["variables"]["cash"]["n"] == 13


def test_two_stores_on_one_state_file_write_at_once(tmp_path: Path) -> None:
    """Two connections to the same --state file (two servers sharing it), each written from four threads."""
    stores = [StateStore(tmp_path), StateStore(tmp_path)]

    def write(store: StateStore, k: int) -> None:
        for t in range(50):
            store.put_actuals("m", [(t, f"v{k}", float(t))])

    threads = [threading.Thread(target=write, args=(stores[k % 2], k)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert stores[0].count_actuals("m") == stores[1].count_actuals("m") == 400
    for store in stores:
        store.close()


@pytest.mark.parametrize(("model", "query", "args"), [
    ("revenue", {}, ["--mode", "deterministic"]),
    ("pricing_mc", {"mode": "monte_carlo", "runs": 300, "seed": 7},
     ["--mode", "monte_carlo", "--runs", "300", "--seed", "7", "--threads", "1"]),
])
def test_accuracy_equals_pel_backtest(make_client: MakeClient, models_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str], model: str, query: dict,
                                      args: list[str]) -> None:
    var = "mrr" if model == "revenue" else "revenue"
    values = [float(x) for x in pel.load(models_dir / f"{model}.pel").run("deterministic")[var].value]
    csv = "t,variable,value\n" + "".join(f"{t},{var},{values[t] * (1 + 0.03 * (t % 3 - 1)):.2f}\n"
                                         for t in range(0, 10))
    (tmp_path / "actuals.csv").write_text(csv)
    c = make_client()
    r = c.post(f"/models/{model}/actuals", content=csv, headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    served = c.get(f"/models/{model}/accuracy", params=query)
    assert served.status_code == 200, served.text
    capsys.readouterr()
    code = pel_main(["backtest", str(models_dir / f"{model}.pel"), "--actuals", str(tmp_path / "actuals.csv"),
                     "--format", "json", "--quiet", *args])
    assert code in (0, 2, 3, 4)  # the run's own exit status (a warning constraint may be violated)
    cli = json.loads(capsys.readouterr().out)
    got = served.json()
    assert got.pop("actuals") == f"/models/{model}/actuals"
    cli.pop("actuals")
    assert got == cli
    # the metrics follow the figures
    gauges = _gauges(c)
    scores = got["variables"][var]
    for metric in ("mape", "rmse", "bias"):
        key = ("pel_prediction_error", (("metric", metric), ("model", model), ("variable", var)))
        assert gauges[key] == pytest.approx(scores[metric])
    coverage = gauges.get(("pel_prediction_interval_coverage", (("model", model), ("variable", var))))
    if query.get("mode") == "monte_carlo":
        assert coverage == pytest.approx(scores["coverage_p5_p95"])
    else:
        assert coverage is None


def test_accuracy_query_is_checked(make_client: MakeClient) -> None:
    c = make_client()
    c.post("/models/revenue/actuals", json={"rows": _rows()})
    for params, field in [({"mode": "fast"}, "mode"), ({"runs": 0}, "runs"), ({"seed": -1}, "seed")]:
        r = c.get("/models/revenue/accuracy", params=params)
        assert (r.status_code, r.json()["field"]) == (422, field), r.text


def test_token_is_required(make_client: MakeClient) -> None:
    c = make_client(token="s3cret")
    assert c.post("/models/revenue/actuals", json={"rows": _rows()}).status_code == 401
    assert c.get("/models/revenue/accuracy").status_code == 401
    auth = {"Authorization": "Bearer s3cret"}
    assert c.post("/models/revenue/actuals", json={"rows": _rows()}, headers=auth).status_code == 200
    assert c.get("/models/revenue/accuracy", headers=auth).status_code == 200
    assert c.get("/models/revenue/accuracy", headers={"Authorization": "Bearer wrong"}).status_code == 401


@pytest.mark.slow
def test_prediction_error_alert_fires(tmp_path: Path) -> None:
    """docs/serve.md's PredictionErrorHigh: silent while the actuals match, firing an hour after they are 20% off."""
    _promtool()  # skips before the server starts when promtool is absent
    rules = _yaml_block((REPO / "docs" / "serve.md").read_text(encoding="utf-8"), "# alerting/pel_accuracy.yml")
    minutes = 70
    with LiveServer(make_config(copy_models(tmp_path / "models"))) as server, \
            httpx.Client(base_url=server.url, timeout=60) as c:
        scrapes = Scrapes(c)
        assert c.post("/models/revenue/actuals", json={"rows": _rows(1.0)}).status_code == 200
        assert c.get("/models/revenue/accuracy").status_code == 200
        for _ in range(minutes):
            scrapes.take()
        assert c.post("/models/revenue/actuals", json={"rows": _rows(1.2)}).status_code == 200
        assert c.get("/models/revenue/accuracy").status_code == 200
        for _ in range(minutes):
            scrapes.take()
    labels = {"model": "revenue", "variable": "mrr", "metric": "mape", "severity": "warning"}
    promtool_test(tmp_path, rules, scrapes, [
        {"eval_time": f"{minutes - 1}m", "alertname": "PredictionErrorHigh", "exp_alerts": []},
        {"eval_time": f"{minutes + 30}m", "alertname": "PredictionErrorHigh", "exp_alerts": []},
        {"eval_time": f"{2 * minutes - 1}m", "alertname": "PredictionErrorHigh",
         "exp_alerts": [{"exp_labels": labels,
                         "exp_annotations": {"summary": "Model revenue misses mrr by 16.67% (MAPE)"}}]},
    ])


def test_a_damaged_state_database_is_refused_with_a_coded_error(tmp_path) -> None:
    import sys

    state = tmp_path / "state"
    state.mkdir()
    (state / "state.sqlite3").write_bytes(b"not a database, just bytes " * 20)
    models = tmp_path / "models"
    models.mkdir()
    proc = subprocess.run([sys.executable, "-m", "pel.cli", "serve", "--models", str(models), "--state", str(state),
                           "--port", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "error[E0914]" in proc.stderr and "state database" in proc.stderr and "cannot be used" in proc.stderr
    assert "Traceback" not in proc.stderr and "E9999" not in proc.stderr
    assert (state / "state.sqlite3").read_bytes() == b"not a database, just bytes " * 20  # nothing lost


def test_a_body_over_the_cap_is_refused_without_being_read_whole(make_client: MakeClient) -> None:
    from pel.server import app as server_app

    c = make_client()
    big = b"t,variable,value\n" + b"1,mrr,5\n" * (server_app.MAX_ACTUALS_BYTES // 8 + 1)
    r = c.post("/models/revenue/actuals", content=big, headers={"content-type": "text/csv"})
    assert r.status_code == 413, r.text
    assert r.json()["code"] == "E0011" and r.json()["field"] == "body"

    def chunks():  # no Content-Length: the cap holds on the stream itself
        yield b"t,variable,value\n"
        for _ in range(server_app.MAX_ACTUALS_BYTES // (1 << 16) + 2):
            yield b"#" * ((1 << 16) - 1) + b"\n"

    r = c.post("/models/revenue/actuals", content=chunks(), headers={"content-type": "text/csv"})
    assert r.status_code == 413, r.text
    assert c.get("/models/revenue/accuracy").status_code == 409  # nothing was stored
