"""Scenarios over HTTP: `"scenario"` in a run request runs the model under it (the same bytes as `pel run
--scenario`), an unknown one is a 422 naming the field, and `GET /models/{name}` lists them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

import pel

MakeClient = Callable[..., httpx.Client]
PROV = '{ source: "t", method: "observed", confidence: 0.9 }'
MODEL = f"""model Cases {{
  param price: Currency<USD> = $10 {PROV}
  param volume: Count<Unit> ~ Normal(μ = 100, σ = 10) {PROV}
  scenario cheap {{ price = $8 }}
  scenario crowded {{ volume ~ Normal(μ = 150, σ = 5) }}
  var revenue: TimeSeries<Currency<USD>>
  revenue[t] = price * volume
  simulate for 2mo
}}
"""


def test_runs_under_a_scenario(make_client: MakeClient, models_dir: Path) -> None:
    (models_dir / "cases.pel").write_text(MODEL)
    c = make_client()
    assert c.get("/models/cases").json()["scenarios"] == ["cheap", "crowded"]
    model = pel.compile(models_dir / "cases.pel")
    for scenario, body in [("cheap", {}), ("crowded", {"mode": "monte_carlo", "runs": 500, "seed": 3})]:
        r = c.post("/models/cases/run", json={**body, "scenario": scenario})
        assert r.status_code == 200, r.text
        assert r.json()["model"]["scenario"] == scenario
        local = model.run(body.get("mode"), runs=body.get("runs"), seed=body.get("seed"), scenario=scenario,
                          threads=1)
        assert r.content == local.to_json().encode()
    r = c.post("/models/cases/run", json={"scenario": "nope"})
    assert r.status_code == 422 and (r.json()["code"], r.json()["field"]) == ("E0600", "scenario")
    assert "scenarios: cheap, crowded" in r.json()["detail"]
    r = c.post("/models/cases/run", json={"scenario": 5})
    assert r.status_code == 422 and r.json()["code"] == "E0011"
