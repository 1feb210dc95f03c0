"""Text of the files `pel init` writes: the example model, its pytest suite, the CI workflow, .gitignore, README."""

from __future__ import annotations

MODEL_NAME = "subscription_forecast"

# The example model; "{validated}" is replaced by the date `pel init` ran (the day its values were reviewed).
MODEL = r'''// Subscription forecast: subscribers, revenue, costs and cash over two years, with uncertain churn.
// Written by `pel init` as a starting point: edit it, and keep tests/ and docs/assumptions.md in step.

model SubscriptionForecast {
  param starting_subscribers: Count<Customer> = 2_000 {
    source: "crm_export",
    method: "observed",
    confidence: 0.95,
    freshness: "P3M",
    owner: "revenue_ops",
    validated: "{validated}"
  }

  param monthly_price: Currency<USD> = $39 {
    source: "price_list",
    method: "observed",
    confidence: 0.95,
    freshness: "P6M",
    owner: "pricing",
    validated: "{validated}"
  }

  param signup_rate: Rate per Month = 0.06 / 1mo {
    source: "signup_history_2025",
    method: "fitted",
    confidence: 0.8,
    freshness: "P3M",
    owner: "growth",
    validated: "{validated}"
  }

  param churn_rate: Fraction ~ Beta(α=4, β=96) {
    source: "cohort_analysis",
    method: "fitted",
    confidence: 0.75,
    freshness: "P3M",
    owner: "customer_success",
    validated: "{validated}"
  }

  param cost_per_subscriber: Currency<USD> = $21 {
    source: "fulfilment_quote",
    method: "expert_estimate",
    confidence: 0.6,
    freshness: "P3M",
    owner: "operations",
    validated: "{validated}"
  }

  param fixed_costs: Currency<USD> = $45_000 {
    source: "budget_2026",
    method: "observed",
    confidence: 0.9,
    freshness: "P1Y",
    owner: "finance",
    validated: "{validated}"
  }

  param opening_cash: Currency<USD> = $400_000 {
    source: "bank_statement",
    method: "observed",
    confidence: 1.0,
    freshness: "P3M",
    owner: "finance",
    validated: "{validated}"
  }

  param cash_floor: Currency<USD> = $100_000 {
    source: "board_policy",
    method: "assumption",
    confidence: 0.8,
    freshness: "P1Y",
    owner: "finance",
    validated: "{validated}",
    notes: "The board wants about two months of costs in the bank at all times"
  }

  var subscribers: TimeSeries<Count<Customer>>
  subscribers[0] = starting_subscribers
  subscribers[t+1] = subscribers[t] * (1 + signup_rate - churn_rate)

  var revenue: TimeSeries<Currency<USD>>
  revenue[t] = subscribers[t] * monthly_price

  var costs: TimeSeries<Currency<USD>>
  costs[t] = subscribers[t] * cost_per_subscriber + fixed_costs

  var profit: TimeSeries<Currency<USD>>
  profit[t] = revenue[t] - costs[t]

  var cash: TimeSeries<Currency<USD>>
  cash[0] = opening_cash
  cash[t+1] = cash[t] + profit[t]

  constraint cash_positive: cash[t] >= $0 {
    severity: fatal,
    message: "Out of cash at month {t}: {cash[t]}"
  }

  constraint above_floor {
    cash[t] >= cash_floor
      with severity(warning)
      with message("Cash below the board floor at month {t}: {cash[t]}")
  }

  simulate for 24mo
}
'''

TESTS = r'''"""Tests of models/subscription_forecast.pel, run through the `pel` command as CI runs them (tutorial 10)."""

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "subscription_forecast.pel"


def pel(*args):
    """Run `pel` in the repository root; fail the test with its stderr when it exits non-zero."""
    proc = subprocess.run(["pel", *args], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, f"pel {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc


def run_model(ir_path, out, mode="deterministic", seed=42, steps=12, runs=None):
    """Run the compiled model and return its results JSON."""
    args = [str(ir_path), "--mode", mode, "--seed", str(seed), "--steps", str(steps), "-o", str(out), "--quiet"]
    if runs is not None:
        args += ["--runs", str(runs)]
    pel("run", *args)
    return json.loads(Path(out).read_text())


@pytest.fixture(scope="module")
def model_ir(tmp_path_factory):
    """Compile the model once for the whole module."""
    out = tmp_path_factory.mktemp("ir") / "subscription_forecast.ir.json"
    pel("compile", str(MODEL), "-o", str(out))
    return out


@pytest.fixture(scope="module")
def projection(model_ir, tmp_path_factory):
    """One deterministic 12-month run shared by the checks below."""
    return run_model(model_ir, tmp_path_factory.mktemp("run") / "results.json", steps=12)


def test_compilation(model_ir):
    """The model compiles to IR."""
    assert json.loads(model_ir.read_text())["metadata"]["model_hash"].startswith("sha256:")


def test_reproducible_with_a_seed(model_ir, tmp_path):
    """Same seed, same results: byte-identical Monte Carlo output."""
    first = run_model(model_ir, tmp_path / "a.json", mode="monte_carlo", seed=7, runs=500)
    second = run_model(model_ir, tmp_path / "b.json", mode="monte_carlo", seed=7, runs=500)
    assert first == second
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_initial_condition(projection):
    """Month 0 starts from the observed subscribers and the bank balance."""
    assert projection["subscribers"][0]["value"] == 2_000
    assert projection["cash"][0]["value"] == 400_000


def test_12_month_projection(projection):
    """Subscribers compound at signup - churn = 6% - 4% (the Beta(4, 96) mean) per month."""
    expected = 2_000 * (1 + 0.06 - 0.04) ** 12
    assert projection["subscribers"][12]["value"] == pytest.approx(expected, rel=1e-9)
    assert projection["revenue"][12]["value"] == pytest.approx(expected * 39, rel=1e-9)


def test_no_fatal_constraint(projection):
    """The central case never runs out of cash."""
    assert projection["status"] != "constraint_violation", projection.get("message")
    assert projection["violations"] == []
'''

# Seed tutorial 10, "Initialize Git Repository".
GITIGNORE = """# PEL build artifacts
*.ir.json
results*.json
*.html

# Python cache
__pycache__/
*.pyc

# IDE
.vscode/
.idea/

# OS
.DS_Store
"""

CI = """# PEL model CI: compile and lint every model, then run the model tests (seed tutorial 10, step 3).
name: PEL Model CI

on:
  push:
    branches: [main, develop]
  pull_request:
    branches: [main]

env:
  # The pip requirement that installs PEL: the distribution `pel-lang` at the version that wrote this file
  # (or a git URL or a wheel path); it provides the `pel` command.
  PEL_REQUIREMENT: "{requirement}"

jobs:
  lint-and-compile:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install PEL
        run: pip install "$PEL_REQUIREMENT"
      - name: Compile all models
        run: |
          for model in models/*.pel; do
            echo "Compiling $model..."
            pel compile "$model" || exit 1
          done
      - name: Lint models (production checklist)
        run: pel lint models/*.pel

  test:
    runs-on: ubuntu-latest
    needs: lint-and-compile
    steps:
      - uses: actions/checkout@v4
      - name: Set up Python
        uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install PEL and pytest
        run: pip install "$PEL_REQUIREMENT" pytest
      - name: Run tests
        run: pytest tests/ -v --tb=short
"""

README = """# PEL models

Economic models written in PEL, tested and released like software (seed tutorial 10).

```
models/              the models ({model_name}.pel to start with)
tests/               pytest suites that compile and run each model through `pel`
docs/assumptions.md  the assumption register (`pel assumptions models/{model_name}.pel --format md`)
docs/changelog.md    what changed in each release
.github/workflows/   CI: compile, lint, test
```

```bash
pel run models/{model_name}.pel --steps 12            # a deterministic 12-month projection
pel lint models/*.pel                                 # the production checklist
python -m pytest tests/ -v                            # the model tests
pel diff old.pel models/{model_name}.pel --allow minor  # the version bump a change needs
```
"""

CHANGELOG = """# Changelog

Versions follow semantic versioning: `pel diff OLD NEW` says which bump a change requires.

## v0.1.0 — {date}

- Initial model: `models/{model_name}.pel`.
"""
