"""Generate large, valid PEL models with the real corpus' mix of constructs, for the frontend speed benchmark.

The model is built from "business units", each written the way the corpus models are written: a banner
comment, parameters with multi-line provenance blocks (plain values, percentages, rates, distributions),
time-series recurrences, formulas (some broken over two lines, some with `if`/`min`/`max`), constraints in
both forms, and policies; separated by blank lines. `token_density` tells how many tokens per line a
source has, so the benchmark can show the generated model is as dense as the corpus (see bench_frontend).
"""

from __future__ import annotations

import random
from pathlib import Path

_METHODS = ("observed", "fitted", "derived", "expert_estimate")  # "assumption" would need notes (W0403)
_SOURCES = ("crm_export", "billing_system", "finance_team", "ops_metrics", "market_research", "hr_system")


def _unit(i: int, rng: random.Random) -> list[str]:
    """One business unit: about 95 lines, every name suffixed with `i`."""
    src = lambda: rng.choice(_SOURCES)  # noqa: E731
    meth = lambda: rng.choice(_METHODS)  # noqa: E731
    conf = lambda: f"{rng.randint(50, 99) / 100:.2f}"  # noqa: E731
    out = [
        "  // =============================================================================",
        f"  // Business unit {i}: customers, revenue, costs and cash",
        "  // =============================================================================",
        "",
        f"  // Starting customer base for unit {i}",
        f"  param initial_customers_{i}: Count<Customer> = {rng.randint(100, 5000)} {{",
        f'    source: "{src()}",',
        f'    method: "{meth()}",',
        f"    confidence: {conf()}",
        "  }",
        "",
        "  // Average revenue per user, from the billing system's last full quarter",
        f"  param arpu_{i}: Currency<USD> = ${rng.randint(20, 400)}_{rng.randint(100, 999)} {{",
        f'    source: "{src()}",',
        f'    method: "{meth()}",',
        f"    confidence: {conf()},",
        '    owner: "finance",',
        f'    notes: "Average revenue per user, unit {i}"',
        "  }",
        "",
        f"  // Growth is uncertain: fitted on {rng.randint(6, 36)} months of history",
        f"  param growth_{i}: Rate per Month ~ Normal(μ={rng.randint(1, 9) / 100}/1mo, σ=0.01/1mo) {{",
        f'    source: "{src()}",',
        f'    method: "{meth()}",',
        f"    confidence: {conf()}",
        "  }",
        "",
        "  // Monthly churn: share of customers lost each month",
        "  // (Beta prior fitted on the cohort analysis)",
        f"  param churn_{i}: Fraction ~ Beta(α={rng.randint(2, 5)}, β={rng.randint(60, 120)}) {{",
        f'    source: "{src()}",',
        '    method: "fitted",',
        f"    confidence: {conf()}",
        "  }",
        "",
        "  // Gross margin after hosting and support costs",
        f"  param margin_{i}: Fraction = {rng.randint(40, 90)}% {{",
        f'    source: "{src()}",',
        f'    method: "{meth()}",',
        f"    confidence: {conf()},",
        '    owner: "finance"',
        "  }",
        "",
        "  // Fixed monthly costs: rent, tooling, salaries of the core team",
        f"  param fixed_costs_{i}: Currency<USD> = ${rng.randint(1, 90)}_000 {{",
        f'    source: "{src()}",',
        '    method: "observed",',
        f"    confidence: {conf()}",
        "  }",
        "",
        "  // Cash in the bank at the start of the plan",
        f"  param starting_cash_{i}: Currency<USD> = ${rng.randint(1, 9)}_000_000 {{",
        f'    source: "{src()}",',
        '    method: "observed",',
        "    confidence: 1.0",
        "  }",
        "",
        "  // --- Customers ---",
        f"  var customers_{i}: TimeSeries<Count<Customer>>",
        f"  customers_{i}[0] = initial_customers_{i}",
        f"  customers_{i}[t+1] = customers_{i}[t] * (1 + growth_{i} - churn_{i})",
        "",
        "  // Customers lost each month",
        f"  var churned_{i}: TimeSeries<Count<Customer>>",
        f"  churned_{i}[t] = customers_{i}[t] * churn_{i}",
        "",
        "  // --- Revenue and margin ---",
        f"  var mrr_{i}: TimeSeries<Currency<USD>>",
        f"  mrr_{i}[t] = customers_{i}[t] * arpu_{i}",
        "",
        "  // Gross profit = revenue x margin",
        f"  var gross_profit_{i}: TimeSeries<Currency<USD>>",
        f"  gross_profit_{i}[t] = mrr_{i}[t] * margin_{i}",
        "",
        "  // Costs step up once the business passes its first year",
        f"  var costs_{i}: TimeSeries<Currency<USD>>",
        f"  costs_{i}[t] = if t > 12",
        f"    then fixed_costs_{i} * 1.2",
        f"    else fixed_costs_{i}",
        "",
        "  // Operating profit before tax",
        f"  var profit_{i}: TimeSeries<Currency<USD>>",
        f"  profit_{i}[t] = gross_profit_{i}[t]",
        f"    - costs_{i}[t]",
        "",
        "  // --- Cash ---",
        f"  var cash_{i}: TimeSeries<Currency<USD>>",
        f"  cash_{i}[0] = starting_cash_{i}",
        f"  cash_{i}[t+1] = cash_{i}[t] + profit_{i}[t]",
        "",
        "  // Profit used for the bonus pool: never negative, capped at $1M",
        f"  var capped_profit_{i}: TimeSeries<Currency<USD>>",
        f"  capped_profit_{i}[t] = max(min(profit_{i}[t], $1_000_000), $0)",
        "",
        "  // --- Guard rails ---",
        f"  constraint cash_positive_{i}: cash_{i}[t] >= $0 {{",
        "    severity: fatal,",
        f'    message: "Unit {i} ran out of cash at month {{t}}"',
        "  }",
        "",
        f"  constraint healthy_margin_{i} {{",
        f"    gross_profit_{i}[t] >= mrr_{i}[t] * 0.3",
        "      with severity(warning)",
        f'      with message("Unit {i}: thin margin at month {{t}}")',
        "  }",
        "",
        "  // Raise prices by 5% every year",
        f"  policy price_increase_{i} {{",
        "    when: t % 12 == 0 && t > 0,  // yearly review",
        "    then: {",
        f"      arpu_{i} = arpu_{i} * 1.05",
        f'      emit event("price_increase_{i}", amount: 0.05)',
        "    }",
        "  }",
        "",
    ]
    return out


def generate(lines: int = 5000, seed: int = 0) -> str:
    """A valid model of about `lines` lines (at least one business unit), deterministic for a given seed."""
    rng = random.Random(seed)
    out = [
        "/// Generated benchmark model: many business units with the corpus' mix of constructs.",
        "/// Every unit has parameters with provenance, recurrences, formulas, constraints and a policy.",
        "",
        "model Generated {",
    ]
    i = 0
    while i == 0 or len(out) < lines - 3:
        out += _unit(i, rng)
        i += 1
    out += ["  simulate monte_carlo with runs 1_000 for 60mo", "}"]
    return "\n".join(out) + "\n"


def token_density(sources: list[str]) -> tuple[int, int, float]:
    """(lines, tokens, tokens per line) over the given sources; sources that do not lex are skipped."""
    from pel.diagnostics import CompileError
    from pel.frontend.lexer import tokenize

    lines = tokens = 0
    for text in sources:
        try:
            tokens += len(tokenize(text))
        except CompileError:
            continue
        lines += text.count("\n") + (not text.endswith("\n"))
    return lines, tokens, tokens / max(lines, 1)


def corpus_sources() -> list[str]:
    """The real corpus models (<repo>/../shared/corpus/models), or [] where that folder is absent."""
    folder = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpus" / "models"
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.pel"))] if folder.is_dir() else []
