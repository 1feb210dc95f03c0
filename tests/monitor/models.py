"""The small model the monitoring tests run (deterministic series with known values, one uncertain series)."""

from __future__ import annotations

from pathlib import Path

PROV = '{ source: "test", method: "observed", confidence: 0.9 }'

# revenue: 100, 110, 120, … (t = 0..6); users: 100 at every step; churn_rate: 0.05; zero: 0; noisy: revenue + N(0, 10).
TINY = f"""model Tiny {{
  param start: Currency<USD> = $100 {PROV}
  param step: Currency<USD> = $10 {PROV}
  param noise: Currency<USD> ~ Normal(μ=$0, σ=$10) {PROV}
  param base_users: Count<Customer> = 50 {PROV}
  param churn: Fraction = 5% {PROV}
  param growth: Rate per Year = 0.12 / 1y {PROV}
  var revenue: TimeSeries<Currency<USD>>
  revenue[0] = start
  revenue[t+1] = revenue[t] + step
  var noisy: TimeSeries<Currency<USD>>
  noisy[t] = revenue[t] + noise
  var users: TimeSeries<Count<Customer>>
  users[t] = base_users * 2
  var churn_rate: TimeSeries<Fraction>
  churn_rate[t] = churn
  var yearly: TimeSeries<Rate per Year>
  yearly[t] = growth
  var zero: TimeSeries<Currency<USD>>
  zero[t] = revenue[t] - revenue[t]
  var helper: TimeSeries<Currency<USD>>
  helper[t] = revenue[t] * 2
  var label = "EMEA"
  output revenue, noisy, users, churn_rate, yearly, zero, label, doubled = revenue * 2
  simulate for 6mo
}}
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path
