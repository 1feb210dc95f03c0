"""Monitoring: counters at 0 from the start, labels that alert rules cannot overwrite, one log line per violated
constraint per execution, and no server path in any answer."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pel.server.app import public_text
from pel.server.metrics import FAILURE_REASONS, STATUSES

from .conftest import MODELS

SERVED = {"revenue": ["positive_growth:warning", "cash_positive:fatal"],
          "revenue_ir": ["positive_growth:warning", "cash_positive:fatal"],
          "revenue_mp": ["positive_growth:warning", "cash_positive:fatal"],
          "pricing_mc": ["revenue_above_floor:warning"]}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """(sample name, its labels) -> value, for every sample of a /metrics scrape."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, frozenset]:
    return name, frozenset(labels.items())


def test_every_counter_exists_at_zero_before_any_request(make_client):
    c = make_client()
    got = samples(c.get("/metrics").text)
    for model, constraints in SERVED.items():
        for mode in ("deterministic", "monte_carlo"):
            for status in STATUSES[mode]:
                assert got[key("pel_executions_total", model=model, mode=mode, status=status)] == 0
            for reason in FAILURE_REASONS[mode]:
                assert got[key("pel_execution_failures_total", model=model, mode=mode, reason=reason)] == 0
            for item in constraints:
                name, severity = item.split(":")
                assert got[key("pel_constraint_violations_total", model=model, mode=mode, constraint=name,
                               constraint_severity=severity)] == 0
            assert got[key("pel_execution_seconds_count", model=model, mode=mode)] == 0
            # the gauge of the last duration has no value before a first execution
            assert key("pel_execution_duration_seconds", model=model, mode=mode) not in got
    for reason in ("busy", "compiling"):
        assert got[key("pel_requests_rejected_total", reason=reason)] == 0
    assert {"constraint_violation"} & set(STATUSES["deterministic"]) and "partial" in STATUSES["monte_carlo"]


def test_no_label_collides_with_the_labels_alert_rules_set(make_client):
    c = make_client()
    assert c.post("/models/revenue/run", json={"params": {"monthly_costs": "$200_000"}}).status_code == 200
    assert c.post("/models/fault_free_missing/run", json={}).status_code == 404
    names = {label for (_, labels) in samples(c.get("/metrics").text) for label, _ in labels}
    # the tutorial's rules set `severity`; Prometheus adds `job`, `instance`; `alertname` names the alert
    assert not names & {"severity", "alertname", "job", "instance"}, names
    assert "constraint_severity" in names


def test_duration_gauge_is_the_last_execution_per_model_and_mode(make_client):
    c = make_client()
    assert c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 20_000}).status_code == 200
    first = samples(c.get("/metrics").text)[key("pel_execution_duration_seconds", model="pricing_mc",
                                                   mode="monte_carlo")]
    assert c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 10, "steps": 1}).status_code == 200
    got = samples(c.get("/metrics").text)
    last = got[key("pel_execution_duration_seconds", model="pricing_mc", mode="monte_carlo")]
    assert 0 < last < first
    assert got[key("pel_execution_seconds_count", model="pricing_mc", mode="monte_carlo")] == 2
    assert key("pel_execution_duration_seconds", model="pricing_mc", mode="deterministic") not in got


def test_a_cancelled_run_counts_as_long_as_its_deadline(make_client):
    c = make_client(timeout_s=0.5, max_path_steps=10**10, max_runs=10**8, max_concurrent=1)
    r = c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 50_000_000, "steps": 120})
    assert r.status_code == 503 and r.json()["code"] == "timeout"
    got = samples(c.get("/metrics").text)
    assert got[key("pel_execution_duration_seconds", model="pricing_mc", mode="monte_carlo")] >= 0.5
    assert got[key("pel_executions_total", model="pricing_mc", mode="monte_carlo", status="timeout")] == 1
    assert got[key("pel_execution_failures_total", model="pricing_mc", mode="monte_carlo", reason="timeout")] == 1


def _exec_lines(caplog: pytest.LogCaptureFixture) -> list[dict]:
    return [json.loads(rec.getMessage()) for rec in caplog.records if rec.name == "pel.server.executions"]


def test_one_log_line_per_violated_constraint_not_per_step(make_client, caplog):
    c = make_client()
    declining = {"steps": 5_000, "params": {"growth_rate": "-0.001/1mo", "monthly_costs": "$0"}}
    with caplog.at_level(logging.INFO, logger="pel.server.executions"):
        r = c.post("/models/revenue/run", json=declining)
    assert r.status_code == 200 and len(r.json()["warnings"]) == 5_000  # the results keep every step
    lines = _exec_lines(caplog)
    assert [x["event"] for x in lines] == ["constraint_violation", "execution"]
    v, e = lines
    assert v["constraint"] == "positive_growth" and v["severity"] == "warning"
    assert (v["count"], v["first_t"], v["last_t"]) == (5_000, 0, 4_999)
    assert v["message"] == "Revenue declining at t=0" and v["request_id"] == e["request_id"]
    assert e["warnings"] == 5_000 and e["violations"] == 0
    assert all(rec.levelno == logging.WARNING for rec in caplog.records if "constraint_violation" in rec.getMessage())


def test_fatal_and_warning_constraints_log_one_line_each(make_client, caplog):
    c = make_client()
    both = {"params": {"growth_rate": "-0.01/1mo", "monthly_costs": "$80_000"}}
    with caplog.at_level(logging.INFO, logger="pel.server.executions"):
        r = c.post("/models/revenue/run", json=both)
    body = r.json()
    assert body["status"] == "constraint_violation" and len(body["warnings"]) > 1 and len(body["violations"]) == 1
    lines = {x["constraint"]: x for x in _exec_lines(caplog) if x["event"] == "constraint_violation"}
    assert set(lines) == {"cash_positive", "positive_growth"}
    fatal = lines["cash_positive"]
    stop = body["violations"][0]["t"]
    assert (fatal["severity"], fatal["count"], fatal["first_t"], fatal["last_t"]) == ("fatal", 1, stop, stop)
    warn = lines["positive_growth"]
    assert (warn["count"], warn["first_t"], warn["last_t"]) == (len(body["warnings"]), 0, body["warnings"][-1]["t"])
    got = samples(c.get("/metrics").text)
    for name, severity in (("cash_positive", "fatal"), ("positive_growth", "warning")):
        assert got[key("pel_constraint_violations_total", model="revenue", mode="deterministic", constraint=name,
                       constraint_severity=severity)] == 1


def test_monte_carlo_logs_one_line_per_constraint(make_client, caplog):
    c = make_client()
    with caplog.at_level(logging.INFO, logger="pel.server.executions"):
        r = c.post("/models/pricing_mc/run", json={"mode": "monte_carlo", "runs": 2_000, "seed": 3,
                                                   "params": {"revenue_floor": "$125_000"}})
    w = r.json()["warnings"]
    assert len(w) == 1
    lines = [x for x in _exec_lines(caplog) if x["event"] == "constraint_violation"]
    assert len(lines) == 1
    line = lines[0]
    assert line["constraint"] == "revenue_above_floor" and line["count"] == w[0]["count"] > 0
    assert line["rate"] == w[0]["rate"] and line["first_t"] == w[0]["first_violation_t"]["min"]
    assert line["last_t"] == w[0]["first_violation_t"]["max"]


@pytest.mark.parametrize("text, public", [
    ("/srv/models/revenue.pel:5:1: error[E0005]: unexpected '}'", "revenue.pel:5:1: error[E0005]: unexpected '}'"),
    ("cannot read '/var/cache/pel/numba/k.nbi'", "cannot read 'k.nbi'"),
    ("growth_rate: 0.1/1mo is not USD/Month ($120/1mo)", "growth_rate: 0.1/1mo is not USD/Month ($120/1mo)"),
    ("a / b and 1 /2", "a / b and 1 /2"),
])
def test_public_text_drops_folders_only(text: str, public: str) -> None:
    assert public_text(text) == public


def test_no_server_path_in_any_answer(make_client, models_dir: Path):
    (models_dir / "broken.pel").write_text((MODELS / "revenue.pel").read_text().replace(
        "mrr[0] = initial_mrr", "mrr[0] = initial_mrr +"))
    (models_dir / "corrupt.ir.json").write_text('{"format_version": 1, "model": ')
    (models_dir / "rounded.pel").write_text((MODELS / "revenue.pel").read_text().replace(
        "for 12mo", "for 12.5mo"))
    c = make_client()
    roots = {str(models_dir), str(models_dir.resolve()), str(models_dir.parent), str(Path.cwd())}
    answers = []
    listing = c.get("/models")
    errors = {e["name"]: e for e in listing.json()["errors"]}
    assert set(errors) == {"broken", "corrupt"}
    assert errors["broken"]["error"].startswith("broken.pel:"), errors["broken"]
    assert errors["corrupt"]["error"].startswith("corrupt.ir.json: error[V000]"), errors["corrupt"]
    answers.append(listing.text)
    for name in ("broken", "corrupt"):
        r = c.get(f"/models/{name}")
        assert r.status_code == 409 and "does not load" in r.json()["detail"]
        answers.append(r.text)
        r = c.post(f"/models/{name}/run", json={})
        assert r.status_code == 409
        answers.append(r.text)
    detail = c.get("/models/rounded")
    assert detail.json()["warnings"] == ["rounded.pel:48:30: warning[W0101]: horizon of 12.5 steps rounded up to 13"]
    answers.append(detail.text)
    answers.append(c.post("/models/rounded/run", json={}).text)
    answers.append(c.post("/models/revenue/run", json={"params": {"nope": 1}}).text)
    answers.append(c.get("/openapi.json").text)
    for text in answers:
        for root in roots:
            assert root not in text, (root, text[:500])
