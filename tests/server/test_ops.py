"""Operations: metrics, structured logs, reloading changed files, deadlines, bounded concurrency."""

from __future__ import annotations

import json
import logging
import os
import threading
import time

import httpx

import pel

from .conftest import MODELS


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_use_the_tutorial_alert_names(make_client):
    c = make_client()
    assert c.post("/models/revenue/run", json={"steps": 3}).status_code == 200
    assert c.post("/models/revenue/run", json={"params": {"monthly_costs": "$200_000"}}).status_code == 200
    assert c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 300}).status_code == 200
    assert c.post("/models/revenue/run", json={"params": {"initial_mrr": "-$1e400"}}).status_code == 422
    text = c.get("/metrics").text
    assert _metric(text, "pel_execution_seconds_count", model="revenue", mode="deterministic") == 2
    assert 0 < _metric(text, "pel_execution_duration_seconds", model="revenue", mode="deterministic") < 30
    assert _metric(text, "pel_executions_total", model="revenue", mode="deterministic", status="success") == 1
    assert _metric(text, "pel_executions_total", model="revenue", status="constraint_violation") == 1
    assert _metric(text, "pel_constraint_violations_total", model="revenue", constraint="cash_positive",
                   constraint_severity="fatal") == 1
    assert _metric(text, "pel_constraint_violations_total", model="pricing_mc", mode="monte_carlo",
                   constraint="revenue_above_floor", constraint_severity="warning") == 1
    assert "pel_execution_failures_total" in text


def test_run_errors_count_as_failures(make_client, models_dir):
    (models_dir / "fault.pel").write_text((MODELS / "revenue.pel").read_text().replace(
        "mrr[t+1] = mrr[t] * (1 + growth_rate)", "mrr[t+1] = mrr[t] * (initial_mrr / (initial_mrr - $50_000))"))
    c = make_client()
    r = c.post("/models/fault/run", json={"steps": 2})
    assert r.status_code == 422 and r.json()["code"].startswith("E08"), r.text
    text = c.get("/metrics").text
    assert _metric(text, "pel_execution_failures_total", model="fault", reason="run_error") == 1


def test_monte_carlo_runs_with_failed_paths_answer_200_and_count_as_failures(make_client, models_dir):
    (models_dir / "fault.pel").write_text((MODELS / "revenue.pel").read_text().replace(
        "mrr[t+1] = mrr[t] * (1 + growth_rate)", "mrr[t+1] = mrr[t] * (initial_mrr / (initial_mrr - $50_000))"))
    c = make_client()
    r = c.post("/models/fault/run", json={"mode": "monte_carlo", "runs": 100, "steps": 2})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "failed" and r.json()["success_rate"] == 0.0
    text = c.get("/metrics").text
    assert _metric(text, "pel_executions_total", model="fault", status="failed") == 1
    assert _metric(text, "pel_execution_failures_total", model="fault", reason="failed") == 1


def test_one_json_log_line_per_execution_and_violation(make_client, caplog):
    c = make_client()
    with caplog.at_level(logging.INFO, logger="pel.server.executions"):
        r = c.post("/models/revenue/run", json={"seed": 9, "params": {"monthly_costs": "$200_000"}})
        assert r.status_code == 200
    lines = [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "pel.server.executions"]
    execs = [x for x in lines if x["event"] == "execution"]
    viols = [x for x in lines if x["event"] == "constraint_violation"]
    assert len(execs) == 1
    e = execs[0]
    assert {"timestamp", "model", "model_hash", "mode", "seed", "duration_sec", "status", "warnings"} <= set(e)
    assert e["model"] == "revenue" and e["seed"] == 9 and e["status"] == "constraint_violation"
    assert e["model_hash"] == pel.load(MODELS / "revenue.pel").hash and e["warnings"] == 0
    assert len(viols) == len(r.json()["violations"]) + len(r.json()["warnings"]) >= 1
    assert viols[0]["constraint"] == "cash_positive" and "Ran out of cash" in viols[0]["message"]
    assert e["request_id"] == r.headers["x-request-id"] == viols[0]["request_id"]


def test_changed_file_is_picked_up_by_hash(make_client, models_dir):
    c = make_client(reload_interval_s=0.1)
    registry = c.server.app.state.registry
    before = c.get("/models/revenue").json()["hash"]
    model_obj = registry.get("revenue").model
    path = models_dir / "revenue.pel"
    path.write_text(path.read_text() + "\n// a comment: same model, same hash\n")
    _wait(lambda: registry.get("revenue").signature != (path.stat().st_mtime_ns, 0, 0)
          and registry.get("revenue").signature[1] == path.stat().st_size)
    assert registry.get("revenue").model is model_obj  # same hash: the warm model is kept
    path.write_text(path.read_text().replace("$50_000", "$70_000"))
    _wait(lambda: c.get("/models/revenue").json()["hash"] != before)
    assert c.post("/models/revenue/run", json={"steps": 0}).json()["mrr"][0]["value"] == 70_000
    (models_dir / "extra.pel").write_text(path.read_text())
    _wait(lambda: c.get("/models/extra").status_code == 200)
    os.remove(models_dir / "extra.pel")
    _wait(lambda: c.get("/models/extra").status_code == 404)


def _wait(cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not reached"
        time.sleep(0.05)


def test_run_past_the_deadline_is_cancelled_and_answered_503(make_client):
    c = make_client(timeout_s=0.3, max_path_steps=10**9, max_concurrent=1)
    runner = c.server.app.state.runner
    t0 = time.monotonic()
    r = c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 1_000_000, "steps": 60})
    answered = time.monotonic() - t0
    assert r.status_code == 503 and r.json()["code"] == "timeout" and r.headers["retry-after"] == "1"
    assert answered < 3
    _wait(lambda: runner.admitted == 0, timeout=3)  # the worker stopped at the next block, not at the end
    assert runner.cancelled == 1
    stopped = time.monotonic() - t0
    assert stopped < 3, stopped
    text = c.get("/metrics").text
    assert _metric(text, "pel_execution_failures_total", model="pricing_mc", reason="timeout") == 1
    assert c.post("/models/revenue/run", json={}).status_code == 200  # the slot is free again


def test_beyond_the_queue_requests_get_503_with_retry_after(make_client):
    c = make_client(max_concurrent=1, max_queue=1, timeout_s=20, max_path_steps=10**9)
    slow = {"mode": "monte_carlo", "runs": 80_000, "steps": 60}
    statuses: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=str(c.base_url), timeout=60) as own:
            statuses.append(own.post("/models/pricing_mc/run", json=slow).status_code)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    runner = c.server.app.state.runner
    _wait(lambda: runner.admitted == 2, timeout=10)
    r = c.post("/models/revenue/run", json={})
    assert r.status_code == 503 and r.json()["code"] == "busy" and r.headers["retry-after"] == "1"
    for t in threads:
        t.join()
    assert statuses == [200, 200]
    assert c.post("/models/revenue/run", json={}).status_code == 200
