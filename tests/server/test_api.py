"""`pel serve` endpoints: health, listing, runs with overrides, errors that name their field, auth, formats."""

from __future__ import annotations

import json

import pytest

import pel
from pel import __version__

from .conftest import MODELS


def test_health_answers_status_and_version(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "healthy", "version": __version__, "models": 4}


def test_models_lists_every_format_with_parameters(client):
    body = client.get("/models").json()
    by_name = {m["name"]: m for m in body["models"]}
    assert set(by_name) == {"revenue", "revenue_ir", "revenue_mp", "pricing_mc"}
    assert body["errors"] == []
    assert {by_name[n]["format"] for n in by_name} == {"pel", "ir.json", "ir.msgpack"}
    rev = by_name["revenue"]
    assert rev["model_name"] == "RevenueForecasting"
    assert rev["hash"] == pel.load(MODELS / "revenue.pel").hash == by_name["revenue_mp"]["hash"]
    growth = next(p for p in rev["parameters"] if p["name"] == "growth_rate")
    assert growth["type"] == "Rate per Month" and growth["unit"] == "1/Month"
    assert growth["default"] == "0.15 / 1mo" and growth["central"] == pytest.approx(0.15)
    assert growth["provenance"]["source"] == "historical_analysis" and growth["provenance"]["confidence"] == 0.75
    price = next(p for p in by_name["pricing_mc"]["parameters"] if p["name"] == "price")
    assert price["distribution"] == "Normal"


def test_model_detail(client):
    d = client.get("/models/revenue").json()
    assert d["time_unit"] == "Month" and d["time_horizon"] == 12
    assert {c["name"]: c["severity"] for c in d["constraints"]} == {"positive_growth": "warning",
                                                                     "cash_positive": "fatal"}
    assert d["outputs"] == ["mrr", "cash"]


def test_run_returns_the_results_contract_identical_to_the_library(client):
    r = client.post("/models/revenue/run", json={"mode": "deterministic", "seed": 7, "steps": 12})
    assert r.status_code == 200
    expected = pel.load(MODELS / "revenue.pel").run("deterministic", seed=7, steps=12).to_dict()
    assert r.json() == json.loads(json.dumps(expected))
    assert r.json()["mrr"][12]["value"] == pytest.approx(50_000 * 1.15**12)


@pytest.mark.parametrize("name", ["revenue_ir", "revenue_mp"])
def test_ir_formats_run_like_the_source(client, name):
    a = client.post("/models/revenue/run", json={"steps": 5}).json()
    b = client.post(f"/models/{name}/run", json={"steps": 5}).json()
    assert a["mrr"] == b["mrr"] and a["model"]["hash"] == b["model"]["hash"]


def test_run_without_body_uses_defaults(client):
    r = client.post("/models/revenue/run")
    assert r.status_code == 200 and r.json()["mode"] == "deterministic" and r.json()["seed"] == 42


def test_monte_carlo_run(client):
    body = client.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 500, "seed": 3}).json()
    assert body["runs"] == 500 and body["mode"] == "monte_carlo"
    point = body["revenue"][0]
    assert {"mean", "std", "p5", "p50", "p95", "value"} <= set(point)
    again = client.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 500, "seed": 3}).json()
    assert again == body


def test_overrides_with_units(client):
    base = client.post("/models/revenue/run", json={"steps": 2}).json()
    r = client.post("/models/revenue/run", json={"steps": 2, "params": {"initial_mrr": "$60_000",
                                                                        "growth_rate": 0.1}})
    assert r.status_code == 200, r.text
    mrr = [p["value"] for p in r.json()["mrr"]]
    assert mrr == pytest.approx([60_000, 66_000, 72_600])
    assert base["mrr"][0]["value"] == 50_000
    yearly = client.post("/models/revenue/run", json={"steps": 1, "params": {"growth_rate": "1.2/1y"}}).json()
    assert yearly["mrr"][1]["value"] == pytest.approx(55_000)


def test_fatal_constraint_is_a_result_not_an_error(client):
    r = client.post("/models/revenue/run", json={"params": {"monthly_costs": "$200_000"}})
    assert r.status_code == 200
    assert r.json()["status"] == "constraint_violation" and "Ran out of cash" in r.json()["message"]


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"params": {"no_such": 1}}, "params.no_such", "E0600"),
    ({"params": {"initial_mrr": "€5"}}, "params.initial_mrr", "E0201"),
    ({"params": {"initial_mrr": "6mo"}}, "params.initial_mrr", "E0200"),
    ({"params": {"initial_mrr": "$$"}}, "params.initial_mrr", "E0005"),
    ({"params": {"growth_rate": True}}, "params.growth_rate", "E0100"),
    ({"mode": "sideways"}, "mode", "E0011"),
    ({"runs": -5}, "runs", "E0011"),
    ({"runs": 0}, "runs", "E0011"),
    ({"runs": 1.5}, "runs", "E0011"),
    ({"mode": "monte_carlo", "runs": 10**12}, "runs", "E0011"),
    ({"mode": "monte_carlo", "runs": 500_000, "steps": 1000}, "runs", "E0011"),
    ({"steps": -1}, "steps", "E0011"),
    ({"steps": 10**9}, "steps", "E0011"),
    ({"seed": -1}, "seed", "E0011"),
    ({"seed": "7"}, "seed", "E0011"),
    ({"surprise": 1}, "surprise", "E0011"),
])
def test_bad_requests_are_422_naming_the_field(client, body, field, code):
    r = client.post("/models/revenue/run", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field and err["code"] == code
    assert field.split(".")[-1] in err["detail"]


def test_malformed_json_is_422(client):
    r = client.post("/models/revenue/run", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


@pytest.mark.parametrize("name", ["nope", "..", "revenue.pel", "%2e%2e%2fetc%2fpasswd", "..%2F..%2Fetc"])
def test_unknown_models_are_404(client, name):
    assert client.post(f"/models/{name}/run", json={}).status_code == 404
    assert client.get(f"/models/{name}").status_code == 404


def test_names_cannot_reach_outside_the_folder(tmp_path, make_client, models_dir):
    (tmp_path / "secret.pel").write_text((MODELS / "revenue.pel").read_text())
    (models_dir / "link.pel").symlink_to(tmp_path / "secret.pel")
    c = make_client()
    names = {m["name"] for m in c.get("/models").json()["models"]}
    assert "secret" not in names and "link" not in names
    assert c.get("/models/..%2Fsecret").status_code == 404


def test_source_shadows_ir_of_the_same_name(make_client, models_dir):
    pel.load(MODELS / "pricing_mc.pel").save(models_dir / "revenue.ir.json")  # a stale, different IR
    c = make_client()
    d = c.get("/models/revenue").json()
    assert d["model_name"] == "RevenueForecasting" and d["file"] == "revenue.pel"
    assert d["shadowed"] == ["revenue.ir.json"]


def test_broken_model_is_reported_not_served(make_client, models_dir):
    (models_dir / "broken.pel").write_text("model Broken { param x: Currency<USD> = \n")
    c = make_client()
    body = c.get("/models").json()
    assert [e["name"] for e in body["errors"]] == ["broken"]
    r = c.post("/models/broken/run", json={})
    assert r.status_code == 409 and "does not load" in r.json()["detail"]
    assert c.get("/health").json()["models"] == 4


def test_bearer_token_guards_everything_but_health(make_client):
    c = make_client(token="s3cret")
    assert c.get("/health").status_code == 200
    for method, path in [("get", "/models"), ("get", "/models/revenue"), ("post", "/models/revenue/run"),
                         ("get", "/metrics"), ("get", "/openapi.json"), ("get", "/docs")]:
        r = getattr(c, method)(path)
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"] == "Bearer"
        bad = getattr(c, method)(path, headers={"Authorization": "Bearer wrong"})
        assert bad.status_code == 401
    ok = c.post("/models/revenue/run", json={}, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


def test_openapi_document(client):
    doc = client.get("/openapi.json").json()
    assert {"/health", "/models", "/models/{name}", "/models/{name}/run", "/metrics"} <= set(doc["paths"])
    run = doc["paths"]["/models/{name}/run"]["post"]
    assert {"200", "404", "422", "503"} <= set(run["responses"])
