"""The alert rules fire on a real server: the tutorial's three rules (taken verbatim from the tutorial) and those of
docs/serve.md, checked by `promtool test rules` on series scraped from `pel serve`'s /metrics.

A live server is driven through a healthy phase (ordinary traffic) and then a trigger phase (a model that warns
on every run, one stopped by a fatal constraint on every run, one whose runs fault, and one run cancelled at the
30 s deadline). /metrics is scraped once per phase step; each scrape becomes one sample, one minute apart, of a
promtool test's `input_series`. promtool then checks which alerts fire at the end of each phase: none after
the healthy one, exactly the expected ones (by their labels) after the trigger one."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import REPO, shared_dir

from .conftest import MODELS, LiveServer, copy_models, make_config

pytestmark = pytest.mark.slow

TUTORIAL = ("seed", "tutorial_10_production_deployment.md")
HEALTHY, TRIGGER = 16, 16  # scrapes (minutes of alert time) of each phase
SLOW_BY = 3  # the trigger step that waits for the slow run's answer (30 s after the phase began) if none came
PER_STEP = 10  # bad requests of each kind between two scrapes: 10/min, above the rules' 0.1/s and 0.05/s

ALERTS = ("HighConstraintViolationRate", "ModelExecutionSlow", "ModelExecutionFailed")

WARNS = {"params": {"growth_rate": "-0.01/1mo", "monthly_costs": "$0"}}  # positive_growth warns at every step
BURNS = {"params": {"monthly_costs": "$200_000"}}  # cash_positive (fatal) stops the run
SLOW = {"mode": "monte_carlo", "runs": 50_000_000, "steps": 120}  # hours of work: cancelled at the deadline
HEALTHY_MC = {"mode": "monte_carlo", "runs": 200, "params": {"revenue_floor": "$0"}}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian/Ubuntu package `prometheus`; .ci/run installs it)")
    return path


def _yaml_block(text: str, first_line: str) -> str:
    """The ```yaml block of a markdown text whose first line is `first_line`, verbatim."""
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        if block.startswith(first_line):
            return block
    raise AssertionError(f"no ```yaml block starting with {first_line!r}")


def tutorial_rules() -> str:
    return _yaml_block(shared_dir(*TUTORIAL).read_text(encoding="utf-8"), "# alerting/rules.yml")


def docs_rules() -> str:
    return _yaml_block((REPO / "docs" / "serve.md").read_text(encoding="utf-8"), "# alerting/pel_serve.yml")


def _fault_model() -> str:
    """The revenue model with a division by zero in its first step: every run ends with a run error (E08xx)."""
    return (MODELS / "revenue.pel").read_text().replace(
        "mrr[t+1] = mrr[t] * (1 + growth_rate)", "mrr[t+1] = mrr[t] * (initial_mrr / (initial_mrr - $50_000))")


class Scrapes:
    """/metrics scraped at successive moments: series -> value at each scrape (None before it first appears)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.series: dict[str, list[float | None]] = {}
        self.count = 0
        self.slow_from: int | None = None  # the first scrape taken after the slow run was answered

    def take(self) -> None:
        r = self.client.get("/metrics")
        assert r.status_code == 200
        seen = {}
        for family in text_string_to_metric_families(r.text):
            for s in family.samples:
                if s.name.endswith("_created"):  # creation timestamps: not used by any rule
                    continue
                labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(s.labels.items()))
                seen[f"{s.name}{{{labels}}}"] = s.value
        for name in seen.keys() - self.series.keys():
            self.series[name] = [None] * self.count
        for name, values in self.series.items():
            values.append(seen.get(name))
        self.count += 1

    def input_series(self) -> list[dict[str, str]]:
        """promtool's input_series: one sample per scrape, `_` where a series was absent."""
        return [{"series": name, "values": " ".join("_" if v is None else repr(float(v)) for v in values)}
                for name, values in sorted(self.series.items())]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _post(client: httpx.Client, model: str, body: dict, status: int) -> None:
    r = client.post(f"/models/{model}/run", json=body)
    assert r.status_code == status, (model, r.status_code, r.text)


def _add_models(models_dir: Path) -> None:
    """One model per condition, beside the healthy ones (`revenue`, `revenue_ir`, `pricing_mc`)."""
    for name in ("declining", "cashburn"):
        shutil.copy(MODELS / "revenue.pel", models_dir / f"{name}.pel")
    (models_dir / "fault.pel").write_text(_fault_model())
    shutil.copy(MODELS / "pricing_mc.pel", models_dir / "slow.pel")


def _drive(c: httpx.Client) -> Scrapes:
    """The healthy phase, then the trigger phase, one scrape after each step's requests."""
    scrapes = Scrapes(c)
    for _ in range(HEALTHY):
        _post(c, "revenue", {}, 200)
        _post(c, "revenue_ir", {"steps": 6}, 200)
        _post(c, "pricing_mc", HEALTHY_MC, 200)
        scrapes.take()

    def slow_run() -> None:
        with httpx.Client(base_url=str(c.base_url), timeout=120) as own:
            r = own.post("/models/slow/run", json=SLOW)
            slow_answer.append((r.status_code, r.json().get("code")))

    slow_answer: list[tuple[int, str]] = []
    slow = threading.Thread(target=slow_run)
    slow.start()
    for step in range(TRIGGER):
        for _ in range(PER_STEP):
            _post(c, "declining", WARNS, 200)
            _post(c, "cashburn", BURNS, 200)
            _post(c, "fault", {}, 422)
        _post(c, "revenue", {}, 200)
        _post(c, "pricing_mc", HEALTHY_MC, 200)
        if scrapes.slow_from is None and (not slow.is_alive() or step == SLOW_BY):
            slow.join(timeout=120)
            assert slow_answer == [(503, "timeout")]
            scrapes.slow_from = scrapes.count
        scrapes.take()
    return scrapes


def _expected(rules: str) -> dict[str, list[dict[str, str]]]:
    """The alerts that must fire at the end of the trigger phase, by alert name: their labels. The tutorial's
    failure rule fires per failure `reason`; the ratio of docs/serve.md per model and mode."""
    per_reason = "expr: rate(pel_execution_failures_total[5m]) > 0.05" in rules

    def reason(value: str) -> dict[str, str]:
        return {"reason": value} if per_reason else {}

    return {
        "HighConstraintViolationRate": [
            {"model": "declining", "mode": "deterministic", "constraint": "positive_growth",
             "constraint_severity": "warning", "severity": "warning"},
            {"model": "cashburn", "mode": "deterministic", "constraint": "cash_positive",
             "constraint_severity": "fatal", "severity": "warning"},
        ],
        "ModelExecutionSlow": [{"model": "slow", "mode": "monte_carlo", "severity": "warning"}],
        "ModelExecutionFailed": [
            {"model": "cashburn", "mode": "deterministic", "severity": "critical", **reason("constraint_violation")},
            {"model": "fault", "mode": "deterministic", "severity": "critical", **reason("run_error")},
        ],
    }


def _summary(rules: str, alert: str, labels: dict[str, str]) -> str:
    """The rule's `summary` annotation with its {{ $labels.x }} filled in."""
    m = re.search(rf"- alert: {alert}\n.*?summary: \"(.*?)\"\n", rules, re.S)
    assert m, alert
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda g: labels[g.group(1)], m.group(1))


def promtool_test(tmp_path: Path, rules: str, scrapes: Scrapes, alert_rule_test: list[dict]) -> None:
    """`promtool check rules` on `rules`, then `promtool test rules`: each of `alert_rule_test` (eval_time,
    alertname, exp_alerts) on the scraped series, one scrape a minute."""
    promtool = _promtool()
    (tmp_path / "rules.yml").write_text(rules)
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": scrapes.input_series(), "alert_rule_test": alert_rule_test}]}
    (tmp_path / "test.yml").write_text(json.dumps(tests, indent=1))  # JSON is YAML
    proc = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _alert_tests(rules: str, scrapes: Scrapes) -> list[dict]:
    healthy = [{"eval_time": f"{HEALTHY - 1}m", "alertname": a, "exp_alerts": []} for a in ALERTS]
    fired = [{"eval_time": f"{scrapes.count - 1}m", "alertname": a,
              "exp_alerts": [{"exp_labels": labels, "exp_annotations": {"summary": _summary(rules, a, labels)}}
                             for labels in expected]}
             for a, expected in _expected(rules).items()]
    return healthy + fired


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Scrapes:
    """One real server driven through both phases, shared by the two rule files' checks."""
    _promtool()
    models_dir = copy_models(tmp_path_factory.mktemp("alerts") / "models")
    _add_models(models_dir)
    # the defaults of `pel serve` (a 30 s deadline), with room for the one run that needs it
    config = make_config(models_dir, max_concurrent=2, max_runs=10**8, max_path_steps=10**10)
    with LiveServer(config) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        return _drive(client)


@pytest.mark.parametrize("source", ["tutorial", "docs"])
def test_alert_rules_fire_on_the_conditions_they_name(source: str, scraped: Scrapes, tmp_path: Path) -> None:
    rules = tutorial_rules() if source == "tutorial" else docs_rules()
    promtool_test(tmp_path, rules, scraped, _alert_tests(rules, scraped))


def test_the_scrapes_show_each_condition(scraped: Scrapes) -> None:
    """The series behind the alerts, as scraped: pre-created at 0, then moving only in the trigger phase."""
    def values(name: str) -> list[float | None]:
        return scraped.series[name]

    viol = values('pel_constraint_violations_total{constraint="positive_growth",constraint_severity="warning",'
                  'mode="deterministic",model="declining"}')
    assert viol[:HEALTHY] == [0.0] * HEALTHY and viol[-1] == PER_STEP * (scraped.count - HEALTHY)
    slow = values('pel_execution_duration_seconds{mode="monte_carlo",model="slow"}')
    assert scraped.slow_from is not None and set(slow[:scraped.slow_from]) == {None}
    assert all(v is not None and v > 30 for v in slow[scraped.slow_from:])
    healthy = values('pel_execution_duration_seconds{mode="deterministic",model="revenue"}')
    assert all(v is not None and v < 30 for v in healthy)
