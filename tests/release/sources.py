"""Small PEL models shared by the release-workflow tests (variants are made with str.replace)."""

from __future__ import annotations

from pathlib import Path

PROV = '{ source: "billing", method: "observed", confidence: 0.9, owner: "finance" }'

GROWTH = f"""model Growth {{
  param initial_mrr: Currency<USD> = $50_000 {PROV}
  param growth_rate: Rate per Month = 0.10 / 1mo {PROV}
  var mrr: TimeSeries<Currency<USD>>
  mrr[0] = initial_mrr
  mrr[t+1] = mrr[t] * (1 + growth_rate)
  constraint grows {{
    mrr[t+1] > mrr[t] with severity(warning) with message("MRR fell at {{t}}")
  }}
  simulate for 12mo
}}
"""

UNCERTAIN = f"""model Uncertain {{
  param base: Currency<USD> = $1_000 {PROV}
  param growth: Fraction ~ Normal(μ=0.05, σ=0.01) {PROV}
  var sales: TimeSeries<Currency<USD>>
  sales[0] = base
  sales[t+1] = sales[t] * (1 + growth)
  simulate for 6mo
}}
"""

# Findings for every lint rule that a file can show: see tests/release/test_lint.py.
AUDIT = """model Audit {
  param price: Currency<USD> = $10 {
    source: "price_list", method: "observed", confidence: 0.9, owner: "pricing",
    freshness: "P3M", validated: "2026-01-15"
  }
  param guess: Fraction = 0.3 {
    source: "workshop", method: "assumption", confidence: 0.4, owner: "strategy"
  }
  param hunch: Fraction = 0.2 {
    source: "workshop", method: "expert_estimate", confidence: 0.5
  }
  param spare: Currency<USD> = $5 {
    source: "x", method: "observed", confidence: 0.6, owner: "ops", freshness: "P1Y"
  }
  param odd: Fraction = 0.1 {
    source: "x", method: "observed", confidence: 0.95, owner: "ops", validated: "last spring"
  }
  var revenue: TimeSeries<Currency<USD>>
  revenue[t] = price * (1 + guess + hunch + odd)
  var scratch: TimeSeries<Currency<USD>>
  scratch[t] = price * 2
  output revenue
  constraint tautology { true with severity(warning) with message("never") }
  constraint positive: revenue[t] >= $0 { severity: fatal, message: "negative at {t}" }
  simulate for 3mo
}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
