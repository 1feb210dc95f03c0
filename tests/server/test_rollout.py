"""Released models in `pel serve --releases`: versions and routing, the version on every answer, metric and log line,
canary and shadow rollouts, promote and rollback behind the admin token, state kept across restarts, and the rollout
commands of the `pel` CLI. The load figures (canary share, stickiness, rollback under 16 clients) are measured on a
live loopback server."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import pel
from pel.cli import main as pel_main
from pel.monitor.state import Rollout
from pel.server.releases import choose, client_place
from tests.conftest import REPO

from .conftest import LiveServer, copy_models, make_config
from .test_alerts import Scrapes, _promtool, _yaml_block, promtool_test

MakeClient = Callable[..., httpx.Client]

PROV = '{ source: "billing", method: "observed", confidence: 0.9, owner: "finance" }'
SOURCE = f"""model Growth {{
  param initial_mrr: Currency<USD> = $50_000 {PROV}
  param growth: Fraction ~ Normal(μ=0.05, σ=0.01) {PROV}
  var mrr: TimeSeries<Currency<USD>>
  mrr[0] = initial_mrr
  mrr[t+1] = mrr[t] * (1 + growth)
  simulate for 12mo
}}
"""
PATCH = SOURCE.replace("$50_000", "$50_250")  # 1.0.1: every step 0.5% above 1.0.0 (a patch)
MAJOR = SOURCE.replace("$50_000", "$55_000")  # 2.0.0: every step 10% above 1.0.0 (a major change)
INITIAL = {"1.0.0": 50_000.0, "1.0.1": 50_250.0, "2.0.0": 55_000.0}
ADMIN, RUN = "admin-secret-token", "run-secret-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


def build_releases(root: Path, sources: tuple[str, ...] = (SOURCE, PATCH, MAJOR)) -> Path:
    """`pel release` of each source in turn into root/releases: Growth 1.0.0, 1.0.1, 2.0.0."""
    releases = root / "releases"
    for i, text in enumerate(sources):
        src = root / f"growth_{i}.pel"
        src.write_text(text, encoding="utf-8")
        assert pel_main(["release", str(src), "--dir", str(releases)]) == 0
    return releases


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One release folder for the module (releases are immutable; each test keeps its state in its own server)."""
    releases = build_releases(tmp_path_factory.mktemp("rollout"))
    assert sorted(p.name for p in (releases / "Growth").glob("*.ir.json")) == [
        "1.0.0.ir.json", "1.0.1.ir.json", "2.0.0.ir.json"]
    return releases


def serve(make_client: MakeClient, release_dir: Path, **kw: object) -> httpx.Client:
    kw.setdefault("admin_token", ADMIN)
    kw.setdefault("max_queue", 64)
    return make_client(releases_dir=release_dir, **kw)


def samples(c: httpx.Client) -> dict[tuple[str, frozenset], float]:
    r = c.get("/metrics")
    assert r.status_code == 200
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def key(name: str, **labels: str) -> tuple[str, frozenset]:
    return name, frozenset(labels.items())


def post(c: httpx.Client, path: str, body: dict | None = None, status: int = 200,
         headers: dict[str, str] | None = None) -> dict:
    r = c.post(path, json=body, headers=headers if headers is not None else AUTH)
    assert r.status_code == status, r.text
    return r.json()


def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def binomial_band(n: int, p: float, sds: float = 4.0) -> tuple[float, float]:
    sd = math.sqrt(n * p * (1 - p))
    return n * p - sds * sd, n * p + sds * sd


# --------------------------------------------------------------------------------------------------------------
# Versions, routing, the version on answers, metrics and logs
# --------------------------------------------------------------------------------------------------------------


def test_versions_list_hashes_and_the_latest_release_starts_active(make_client: MakeClient, release_dir: Path):
    c = serve(make_client, release_dir)
    body = c.get("/models/Growth/versions").json()
    assert body["model"] == "Growth" and body["active"] == "2.0.0"
    assert body["canary"] is None and body["shadow"] is None and body["previous"] == []
    assert [v["version"] for v in body["versions"]] == ["1.0.0", "1.0.1", "2.0.0"]
    for v in body["versions"]:
        assert v["hash"] == pel.load(release_dir / "Growth" / v["file"]).hash
        assert v["role"] == ("active" if v["version"] == "2.0.0" else None)
    assert c.get("/models/revenue/versions").json()["code"] == "E1111"  # a models-folder model has no versions


def test_every_answer_carries_its_version(make_client: MakeClient, release_dir: Path):
    c = serve(make_client, release_dir)
    r = c.post("/models/Growth/run", json={"steps": 3})
    assert r.status_code == 200 and r.headers["X-PEL-Model-Version"] == "2.0.0"
    assert r.json()["model"]["version"] == "2.0.0" and r.json()["mrr"][0]["value"] == INITIAL["2.0.0"]
    r = c.post("/models/Growth@1.0.0/run", json={"steps": 3})  # pinned
    assert r.headers["X-PEL-Model-Version"] == "1.0.0" and r.json()["mrr"][0]["value"] == INITIAL["1.0.0"]
    r = c.post("/models/Growth%401.0.1/run", json={})  # the same, percent-encoded
    assert r.headers["X-PEL-Model-Version"] == "1.0.1" and r.json()["model"]["version"] == "1.0.1"
    r = c.post("/models/Growth/run", json={"params": {"nope": 1}})  # an error answer names the version too
    assert r.status_code == 422 and r.headers["X-PEL-Model-Version"] == "2.0.0"
    detail = c.get("/models/Growth@1.0.1")
    assert detail.json()["version"] == "1.0.1" and detail.headers["X-PEL-Model-Version"] == "1.0.1"
    assert detail.json()["hash"] == pel.load(release_dir / "Growth" / "1.0.1.ir.json").hash
    rows = {"rows": [{"t": t, "variable": "mrr", "value": 50_000 * 1.05**t} for t in range(4)]}
    assert c.post("/models/Growth@1.0.1/actuals", json=rows).json()["model"] == "Growth"  # kept per model
    scored = c.get("/models/Growth@1.0.0/accuracy")
    assert scored.status_code == 200 and scored.headers["X-PEL-Model-Version"] == "1.0.0"
    assert scored.json()["variables"]["mrr"]["mape"] == pytest.approx(0.0, abs=1e-12)
    assert c.get("/models/Growth/accuracy").headers["X-PEL-Model-Version"] == "2.0.0"
    listed = {m["name"]: m for m in c.get("/models").json()["models"]}
    assert listed["Growth"]["version"] == "2.0.0" and listed["revenue"]["version"] is None
    plain = c.post("/models/revenue/run", json={})  # a models-folder model: as before, no version
    assert plain.status_code == 200 and "X-PEL-Model-Version" not in plain.headers
    assert "version" not in plain.json()["model"]


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/models/Growth@9.9.9/run", 404, "E1110"),
    ("/models/Growth@latest/run", 404, "E1110"),
    ("/models/Growth@/run", 404, "E1110"),
    ("/models/revenue@1.0.0/run", 404, "E1111"),
    ("/models/Nothing@1.0.0/run", 404, "not_found"),
])
def test_a_bad_version_is_404_with_a_code(make_client: MakeClient, release_dir: Path, path: str, status: int,
                                          code: str):
    c = serve(make_client, release_dir)
    r = c.post(path, json={})
    assert (r.status_code, r.json()["code"]) == (status, code), r.text
    assert r.json()["field"] in ("name", "version")


def test_metrics_and_logs_carry_the_version(make_client: MakeClient, release_dir: Path,
                                            caplog: pytest.LogCaptureFixture):
    c = serve(make_client, release_dir)
    with caplog.at_level(logging.INFO, logger="pel.server.executions"):
        assert c.post("/models/Growth/run", json={}).status_code == 200
        assert c.post("/models/Growth@1.0.0/run", json={"mode": "monte_carlo", "runs": 50}).status_code == 200
        assert c.post("/models/revenue/run", json={}).status_code == 200
    got = samples(c)
    assert got[key("pel_executions_total", model="Growth", version="2.0.0", mode="deterministic",
                   status="success")] == 1
    assert got[key("pel_executions_total", model="Growth", version="1.0.0", mode="monte_carlo",
                   status="success")] == 1
    assert got[key("pel_executions_total", model="revenue", mode="deterministic", status="constraint_violation")] \
        + got[key("pel_executions_total", model="revenue", mode="deterministic", status="success")] == 1
    assert key("pel_execution_duration_seconds", model="Growth", version="2.0.0", mode="deterministic") in got
    assert got[key("pel_rollout_weight", model="Growth", version="2.0.0", role="active")] == 100
    # the routed version's counters exist at 0 before its first execution
    assert got[key("pel_execution_failures_total", model="Growth", version="2.0.0", mode="monte_carlo",
                   reason="failed")] == 0
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "pel.server.executions"]
    execs = {(x["model"], x["version"]) for x in lines if x["event"] == "execution"}
    assert execs == {("Growth", "2.0.0"), ("Growth", "1.0.0"), ("revenue", None)}


def test_models_and_releases_share_the_url_names_and_releases_win(make_client: MakeClient, release_dir: Path,
                                                                  models_dir: Path):
    (models_dir / "Growth.pel").write_text(SOURCE.replace("$50_000", "$1"), encoding="utf-8")
    c = serve(make_client, release_dir)
    names = [m["name"] for m in c.get("/models").json()["models"]]
    assert names.count("Growth") == 1 and "revenue" in names
    assert c.post("/models/Growth/run", json={}).json()["mrr"][0]["value"] == INITIAL["2.0.0"]
    assert c.get("/health").json()["models"] == len(names)


def test_releases_alone(release_dir: Path):
    with LiveServer(make_config(None, releases_dir=release_dir)) as server, \
            httpx.Client(base_url=server.url, timeout=60) as c:
        assert [m["name"] for m in c.get("/models").json()["models"]] == ["Growth"]
        assert c.post("/models/Growth/run", json={}).headers["X-PEL-Model-Version"] == "2.0.0"


# --------------------------------------------------------------------------------------------------------------
# Admin endpoints: the admin token only
# --------------------------------------------------------------------------------------------------------------


def test_admin_endpoints_refuse_the_run_token_and_no_token(make_client: MakeClient, release_dir: Path):
    c = serve(make_client, release_dir, token=RUN)
    run_auth = {"Authorization": f"Bearer {RUN}"}
    canary = {"version": "1.0.1", "weight": 10}
    for action, body in (("rollout", canary), ("promote", {"version": "1.0.0"}), ("rollback", None)):
        none = c.post(f"/models/Growth/{action}", json=body)
        assert (none.status_code, none.json()["code"]) == (401, "E1113")
        run = c.post(f"/models/Growth/{action}", json=body, headers=run_auth)
        assert (run.status_code, run.json()["code"]) == (403, "E1113")
    assert c.get("/models/Growth/versions", headers=run_auth).json()["canary"] is None  # nothing changed
    assert post(c, "/models/Growth/rollout", canary)["canary"] == {"version": "1.0.1", "weight": 10}
    assert c.get("/models/Growth/versions").status_code == 401  # reading needs the run token
    assert c.post("/models/Growth/run", json={}, headers=AUTH).status_code == 401  # the admin token runs nothing


def test_a_server_without_an_admin_token_refuses_every_change(make_client: MakeClient, release_dir: Path):
    c = serve(make_client, release_dir, admin_token=None)
    for headers in ({}, AUTH, {"Authorization": "Bearer x"}):
        r = c.post("/models/Growth/promote", json={"version": "1.0.0"}, headers=headers)
        assert (r.status_code, r.json()["code"]) == (403, "E1112")
    assert c.get("/models/Growth/versions").json()["active"] == "2.0.0"


def test_rollout_refusals(make_client: MakeClient, release_dir: Path):
    c = serve(make_client, release_dir)
    assert post(c, "/models/Growth/rollout", {"version": "2.0.0", "weight": 10}, 409)["code"] == "E1114"
    assert post(c, "/models/Growth/rollout", {"version": "1.0.1"}, 422)["code"] == "E1114"  # a canary needs a weight
    assert post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": 101}, 422)["field"] == "weight"
    assert post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": -1}, 422)["field"] == "weight"
    assert post(c, "/models/Growth/rollout", {"version": "1.0.1", "mode": "blue", "weight": 1}, 422)["field"] == "mode"
    assert post(c, "/models/Growth/rollout", {"version": "3.0.0", "weight": 10}, 404)["code"] == "E1110"
    assert post(c, "/models/revenue/rollout", {"version": "1.0.0", "weight": 10}, 404)["code"] == "E1111"
    assert post(c, "/models/Growth@1.0.0/rollout", {"version": "1.0.0", "weight": 10}, 404)["code"] == "E1111"
    assert post(c, "/models/Growth/promote", None, 409)["code"] == "E1116"
    assert post(c, "/models/Growth/promote", {"version": "2.0.0"}, 409)["code"] == "E1116"
    assert post(c, "/models/Growth/rollback", None, 409)["code"] == "E1115"
    assert c.get("/models/Growth/versions").json()["active"] == "2.0.0"


def test_promote_and_rollback_move_the_active_version(make_client: MakeClient, release_dir: Path):
    c = serve(make_client, release_dir)
    state = post(c, "/models/Growth/rollout", {"version": "1.0.0", "weight": 25})
    assert state["canary"] == {"version": "1.0.0", "weight": 25}
    state = post(c, "/models/Growth/rollout", {"version": "1.0.1", "mode": "shadow"})
    assert state["shadow"] == {"version": "1.0.1", "weight": 100}
    roles = {v["version"]: v["role"] for v in state["versions"]}
    assert roles == {"1.0.0": "canary", "1.0.1": "shadow", "2.0.0": "active"}
    state = post(c, "/models/Growth/promote")  # the canary first
    assert (state["active"], state["canary"], state["previous"]) == ("1.0.0", None, ["2.0.0"])
    assert state["shadow"] == {"version": "1.0.1", "weight": 100}
    state = post(c, "/models/Growth/promote")  # then the shadow
    assert (state["active"], state["shadow"], state["previous"]) == ("1.0.1", None, ["2.0.0", "1.0.0"])
    assert c.post("/models/Growth/run", json={}).headers["X-PEL-Model-Version"] == "1.0.1"
    post(c, "/models/Growth/rollout", {"version": "2.0.0", "weight": 100})
    assert c.post("/models/Growth/run", json={}).headers["X-PEL-Model-Version"] == "2.0.0"  # all to the canary
    assert c.get("/models/Growth").json()["version"] == "1.0.1"  # but the model shown is the active version
    state = post(c, "/models/Growth/rollback")  # back to 1.0.0, the canary ended
    assert (state["active"], state["canary"], state["previous"]) == ("1.0.0", None, ["2.0.0"])
    assert post(c, "/models/Growth/rollback")["active"] == "2.0.0"
    assert post(c, "/models/Growth/rollback", None, 409)["code"] == "E1115"
    state = post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": 5})
    assert post(c, "/models/Growth/rollout", {"version": None})["canary"] is None  # a canary ended by hand
    got = samples(c)
    assert got[key("pel_rollout_weight", model="Growth", version="2.0.0", role="active")] == 100
    assert key("pel_rollout_weight", model="Growth", version="1.0.1", role="canary") not in got


# --------------------------------------------------------------------------------------------------------------
# Canary routing under load
# --------------------------------------------------------------------------------------------------------------


def test_client_places_are_stable_uniform_and_keep_a_growing_canary():
    places = [client_place("Growth", f"client-{i}") for i in range(20_000)]
    assert places == [client_place("Growth", f"client-{i}") for i in range(20_000)]
    assert all(0 <= p < 100 for p in places)
    lo, hi = binomial_band(20_000, 0.1)
    assert lo <= sum(p < 10 for p in places) <= hi
    state = Rollout("Growth", "1.0.0", canary="1.0.1", canary_weight=10)
    wider = Rollout("Growth", "1.0.0", canary="1.0.1", canary_weight=50)
    in_10 = {i for i in range(2_000) if choose(state, f"client-{i}") == "1.0.1"}
    in_50 = {i for i in range(2_000) if choose(wider, f"client-{i}") == "1.0.1"}
    assert in_10 < in_50


async def _runs(url: str, n: int, clients: int, headers_of: Callable[[int], dict[str, str]]) -> list[httpx.Response]:
    """`n` deterministic runs of Growth from `clients` concurrent clients; request i sends headers_of(i)."""
    queue = list(range(n))
    out: list[httpx.Response] = []

    async def client(c: httpx.AsyncClient) -> None:
        while queue:
            i = queue.pop()
            out.append(await c.post("/models/Growth/run", json={"steps": 2}, headers=headers_of(i)))

    async with httpx.AsyncClient(base_url=url, timeout=60) as c:
        await asyncio.gather(*(client(c) for _ in range(clients)))
    return out


def test_a_10_percent_canary_gets_10_percent_of_2000_requests(make_client: MakeClient, release_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]):
    c = serve(make_client, release_dir, max_concurrent=4)
    post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": 10})
    answers = asyncio.run(_runs(c.server.url, 2_000, 16, lambda i: {}))  # type: ignore[attr-defined]
    assert Counter(r.status_code for r in answers) == {200: 2_000}
    versions = Counter(r.headers["X-PEL-Model-Version"] for r in answers)
    lo, hi = binomial_band(2_000, 0.1)
    assert set(versions) == {"2.0.0", "1.0.1"} and lo <= versions["1.0.1"] <= hi, versions
    with capsys.disabled():
        print(f"\n[canary] 10% canary: {versions['1.0.1']} of 2000 requests "
              f"(expected 200, 4 sd band {lo:.0f}-{hi:.0f})")
    got = samples(c)
    assert got[key("pel_executions_total", model="Growth", version="1.0.1", mode="deterministic",
                   status="success")] == versions["1.0.1"]


def test_a_client_sees_one_version(make_client: MakeClient, release_dir: Path, capsys: pytest.CaptureFixture[str]):
    c = serve(make_client, release_dir, max_concurrent=4)
    post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": 10})
    clients, each = 500, 3
    answers = asyncio.run(_runs(c.server.url, clients * each, 16,  # type: ignore[attr-defined]
                                lambda i: {"X-PEL-Client": f"customer-{i % clients}"}))
    seen: dict[str, set[str]] = {}
    for r in answers:
        assert r.status_code == 200
        seen.setdefault(r.request.headers["X-PEL-Client"], set()).add(r.headers["X-PEL-Model-Version"])
    assert len(seen) == clients and all(len(v) == 1 for v in seen.values())
    canary = {name for name, v in seen.items() if v == {"1.0.1"}}
    lo, hi = binomial_band(clients, 0.1)
    assert lo <= len(canary) <= hi
    post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": 50})
    for name in sorted(canary):
        assert c.post("/models/Growth/run", json={"steps": 1},
                      headers={"X-PEL-Client": name}).headers["X-PEL-Model-Version"] == "1.0.1"
    with capsys.disabled():
        print(f"\n[sticky] {clients} clients x {each} requests: every client saw one version; "
              f"{len(canary)} in the 10% canary (4 sd band {lo:.0f}-{hi:.0f}), all kept at 50%")


def test_a_rollback_under_16_clients_takes_effect_on_the_next_request(make_client: MakeClient, release_dir: Path,
                                                                      capsys: pytest.CaptureFixture[str]):
    c = serve(make_client, release_dir, max_concurrent=4)
    post(c, "/models/Growth/promote", {"version": "1.0.0"})
    post(c, "/models/Growth/promote", {"version": "1.0.1"})
    hashes = {v["version"]: v["hash"] for v in c.get("/models/Growth/versions").json()["versions"]}
    url = c.server.url  # type: ignore[attr-defined]
    records: list[tuple[float, float, int, dict, httpx.Response]] = []
    rolled_back: list[float] = []

    async def client(ac: httpx.AsyncClient, rng: random.Random, stop: asyncio.Event) -> None:
        while not stop.is_set():
            body = {"seed": rng.randrange(2**31), "steps": rng.randrange(1, 24)}
            sent = time.monotonic()
            r = await ac.post("/models/Growth/run", json=body)
            records.append((sent, time.monotonic(), r.status_code, body, r))

    async def main() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(base_url=url, timeout=60) as ac:
            tasks = [asyncio.create_task(client(ac, random.Random(i), stop)) for i in range(16)]
            await asyncio.sleep(1.0)
            r = await ac.post("/models/Growth/rollback", headers=AUTH)
            assert r.status_code == 200 and r.json()["active"] == "1.0.0"
            rolled_back.append(time.monotonic())
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*tasks)

    asyncio.run(main())
    assert Counter(status for _, _, status, _, _ in records) == {200: len(records)}
    for _, _, _, body, r in records:  # each answer is its own request's, from the version it names
        res, version = r.json(), r.headers["X-PEL-Model-Version"]
        assert res["model"]["version"] == version and res["model"]["hash"] == hashes[version]
        assert res["mrr"][0]["value"] == INITIAL[version]
        assert (res["seed"], res["steps"]) == (body["seed"], body["steps"])
    after = [r.headers["X-PEL-Model-Version"] for sent, _, _, _, r in records if sent >= rolled_back[0]]
    before = [r.headers["X-PEL-Model-Version"] for _, done, _, _, r in records if done < rolled_back[0]]
    assert after and set(after) == {"1.0.0"}
    assert before and set(before) == {"1.0.1"}
    with capsys.disabled():
        print(f"\n[rollback] 16 clients, {len(records)} requests, all 200, no mixed answers; "
              f"{len(after)} sent after the rollback, all 1.0.0")


# --------------------------------------------------------------------------------------------------------------
# Shadows
# --------------------------------------------------------------------------------------------------------------


def _compared(c: httpx.Client, version: str) -> float:
    return samples(c).get(key("pel_shadow_runs_total", model="Growth", version=version, outcome="compared"), 0.0)


@pytest.mark.parametrize(("shadow", "expected"), [("2.0.0", 0.1), ("1.0.1", 0.005)])
def test_shadow_divergence_is_the_difference_between_the_versions(make_client: MakeClient, release_dir: Path,
                                                                  caplog: pytest.LogCaptureFixture, shadow: str,
                                                                  expected: float):
    c = serve(make_client, release_dir)
    post(c, "/models/Growth/promote", {"version": "1.0.0"})
    post(c, "/models/Growth/rollout", {"version": shadow, "mode": "shadow"})
    with caplog.at_level(logging.INFO, logger="pel.server.executions"):
        for n, body in enumerate(({"steps": 24}, {"mode": "monte_carlo", "runs": 3_000, "seed": 7}), start=1):
            r = c.post("/models/Growth/run", json=body)
            assert r.status_code == 200 and r.headers["X-PEL-Model-Version"] == "1.0.0"  # the active answer
            assert r.json()["mrr"][0]["value"] == INITIAL["1.0.0"]
            wait_for(lambda n=n: _compared(c, shadow) == n)
            got = samples(c)
            divergence = got[key("pel_shadow_divergence", model="Growth", version=shadow)]
            assert divergence == pytest.approx(expected, rel=1e-9), (body, divergence)
    # shadow runs are not client executions
    assert sum(v for (name, labels), v in got.items()
               if name == "pel_executions_total" and ("version", shadow) in labels) == 0
    assert got[key("pel_executions_total", model="Growth", version="1.0.0", mode="monte_carlo",
                   status="success")] == 1
    lines = [json.loads(x.getMessage()) for x in caplog.records if x.name == "pel.server.executions"]
    shadows = [x for x in lines if x["event"] == "shadow"]
    assert [x["outcome"] for x in shadows] == ["compared", "compared"]
    assert all(x["version"] == shadow and x["active_version"] == "1.0.0" and x["output"] == "mrr" for x in shadows)
    assert shadows[0]["divergence"] == pytest.approx(expected, rel=1e-9)
    request_ids = {x["request_id"] for x in lines if x["event"] == "execution"}
    assert {x["request_id"] for x in shadows} == request_ids


def test_a_shadow_runs_on_its_weight_of_the_requests_with_their_overrides(make_client: MakeClient,
                                                                         release_dir: Path):
    c = serve(make_client, release_dir)
    post(c, "/models/Growth/promote", {"version": "1.0.0"})
    post(c, "/models/Growth/rollout", {"version": "2.0.0", "mode": "shadow", "weight": 100})
    r = c.post("/models/Growth/run", json={"steps": 3, "params": {"growth": "0.1"}})
    assert r.status_code == 200
    wait_for(lambda: _compared(c, "2.0.0") == 1)
    state = post(c, "/models/Growth/rollout", {"version": "2.0.0", "mode": "shadow", "weight": 0})
    assert state["shadow"] == {"version": "2.0.0", "weight": 0}
    for _ in range(5):
        assert c.post("/models/Growth/run", json={}).status_code == 200
    assert _compared(c, "2.0.0") == 1  # weight 0: no shadow runs


# --------------------------------------------------------------------------------------------------------------
# State across restarts
# --------------------------------------------------------------------------------------------------------------


def test_the_rollout_state_survives_a_restart(tmp_path: Path, models_dir: Path):
    releases = build_releases(tmp_path)
    state_dir = tmp_path / "state"
    config = make_config(models_dir, releases_dir=releases, state_dir=state_dir, admin_token=ADMIN)
    with LiveServer(config) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        post(c, "/models/Growth/promote", {"version": "1.0.0"})
        post(c, "/models/Growth/rollout", {"version": "1.0.1", "weight": 30})
        before = post(c, "/models/Growth/rollout", {"version": "2.0.0", "mode": "shadow", "weight": 50})
    assert pel_main(["release", str(_write(tmp_path, "later.pel", MAJOR.replace("$55_000", "$55_100"))),
                     "--dir", str(releases)]) == 0  # released while the server was down: 2.0.1
    with LiveServer(config) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        after = c.get("/models/Growth/versions").json()
        assert [v["version"] for v in after["versions"]] == ["1.0.0", "1.0.1", "2.0.0", "2.0.1"]
        for field in ("active", "canary", "shadow", "previous", "updated_at"):
            assert after[field] == before[field], field
        assert after["active"] == "1.0.0"  # a new release goes live only when rolled out or promoted
        assert c.post("/models/Growth/run", json={}, headers={"X-PEL-Client": "x"}).status_code == 200
        assert post(c, "/models/Growth/rollback")["active"] == "2.0.0"


def test_the_state_folder_holds_the_rollouts(tmp_path: Path):
    from pel.monitor.state import StateStore

    store = StateStore(tmp_path)
    assert store.rollouts() == {}
    store.change_rollout("Growth", lambda held: held or Rollout("Growth", "1.0.0"))
    assert store.change_rollout("Growth", lambda held: None).active == "1.0.0"  # None: keep as is

    def refuse(held: Rollout | None) -> Rollout:
        raise ValueError("refused")

    with pytest.raises(ValueError):
        store.change_rollout("Growth", refuse)
    store.close()
    again = StateStore(tmp_path)
    (growth,) = again.rollouts().values()
    assert (growth.model, growth.active, growth.previous, growth.canary) == ("Growth", "1.0.0", (), None)
    again.close()


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------------
# The rollout commands
# --------------------------------------------------------------------------------------------------------------


def test_the_rollout_commands(make_client: MakeClient, release_dir: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch):
    c = serve(make_client, release_dir)
    url = c.server.url  # type: ignore[attr-defined]
    monkeypatch.delenv("PEL_ADMIN_TOKEN", raising=False)
    assert pel_main(["rollout", "Growth", "1.0.1", "--weight", "10%", "--server", url, "--token", ADMIN]) == 0
    assert "canary 1.0.1 (10% of requests)" in capsys.readouterr().out
    monkeypatch.setenv("PEL_ADMIN_TOKEN", ADMIN)
    assert pel_main(["rollout", "Growth", "1.0.0", "--mode", "shadow", "--server", url + "/"]) == 0
    assert "shadow 1.0.0 (beside 100% of the active version's requests)" in capsys.readouterr().out
    assert pel_main(["promote", "Growth", "--server", url, "--format", "json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert (state["active"], state["previous"], state["canary"]) == ("1.0.1", ["2.0.0"], None)
    assert pel_main(["rollback", "Growth", "--server", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Growth: active 2.0.0\n") and "shadow" not in out
    assert c.get("/models/Growth/versions").json()["active"] == "2.0.0"


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["rollback", "Growth"], "E1119", ["HTTP 409", "[E1115]"]),
    (["rollout", "Growth", "9.9.9", "--weight", "5"], "E1119", ["HTTP 404", "[E1110]"]),
    (["promote", "Growth", "--token", "wrong"], "E1119", ["HTTP 403", "[E1113]", "admin token"]),
    (["rollout", "Growth", "1.0.1"], "E0011", ["--weight"]),
    (["rollout", "Growth", "1.0.1", "--weight", "5", "--stop"], "E0011", ["--stop"]),
])
def test_the_rollout_commands_fail_with_codes(make_client: MakeClient, release_dir: Path,
                                              capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                              argv: list[str], code: str, words: list[str]):
    c = serve(make_client, release_dir)
    monkeypatch.setenv("PEL_ADMIN_TOKEN", ADMIN)
    assert pel_main([*argv, "--server", c.server.url]) == 1  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_the_rollout_commands_without_a_server(capsys: pytest.CaptureFixture[str]):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert pel_main(["rollback", "Growth", "--server", f"http://127.0.0.1:{port}", "--token", ADMIN]) == 1
    err = capsys.readouterr().err
    assert "error[E1118]" in err and "cannot reach the server" in err and "Traceback" not in err
    assert pel_main(["rollback", "Growth", "--server", "localhost:8000", "--token", ADMIN]) == 1
    assert "error[E0011]" in capsys.readouterr().err
    assert pel_main(["rollout", "Growth", "1.0.1", "--weight", "150", "--server", "http://x"]) == 1
    assert "error[E0011]: argument --weight: expected a percent of requests in 0..100" in capsys.readouterr().err


def test_serve_needs_a_folder_and_distinct_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch):
    assert pel_main(["serve"]) == 1
    assert "--releases" in capsys.readouterr().err
    assert pel_main(["serve", "--releases", str(tmp_path / "missing")]) == 1
    assert "error[E0010]" in capsys.readouterr().err
    monkeypatch.setenv("PEL_API_TOKEN", "same")
    monkeypatch.setenv("PEL_ADMIN_TOKEN", "same")
    assert pel_main(["serve", "--models", str(copy_models(tmp_path / "m"))]) == 1
    assert "must differ" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------------------
# The shadow alert of docs/release.md, with promtool
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_shadow_divergence_alert_fires(release_dir: Path, tmp_path: Path):
    """docs/release.md's rule: silent while the shadow is a 0.5% patch, firing 10 minutes after a 10% change."""
    _promtool()  # skips before the server starts when promtool is absent
    rules = _yaml_block((REPO / "docs" / "release.md").read_text(encoding="utf-8"), "# alerting/pel_rollout.yml")
    minutes = 20
    config = make_config(copy_models(tmp_path / "models"), releases_dir=release_dir, admin_token=ADMIN)
    with LiveServer(config) as server, httpx.Client(base_url=server.url, timeout=60) as c:
        post(c, "/models/Growth/promote", {"version": "1.0.0"})
        scrapes = Scrapes(c)
        for shadow in ("1.0.1", "2.0.0"):
            post(c, "/models/Growth/rollout", {"version": shadow, "mode": "shadow"})
            for _ in range(minutes):
                assert c.post("/models/Growth/run", json={"steps": 12}).status_code == 200
                wait_for(lambda s=shadow: _compared(c, s) >= 1)
                scrapes.take()
    labels = {"model": "Growth", "version": "2.0.0", "severity": "warning"}
    promtool_test(tmp_path, rules, scrapes, [
        {"eval_time": f"{minutes - 1}m", "alertname": "ShadowDivergence", "exp_alerts": []},
        {"eval_time": f"{minutes + 8}m", "alertname": "ShadowDivergence", "exp_alerts": []},
        {"eval_time": f"{2 * minutes - 1}m", "alertname": "ShadowDivergence", "exp_alerts": [{
            "exp_labels": labels,
            "exp_annotations": {"summary": "Shadow 2.0.0 of Growth differs from the active version by 10%"}}]},
    ])
