"""Generate large, valid PEL models of a chosen size for the frontend speed benchmark."""

from __future__ import annotations


def generate(lines: int = 5000) -> str:
    """A model of about `lines` lines: params with provenance, recurrences, formulas and constraints."""
    out = ["// generated benchmark model", "model Generated {"]
    i = 0
    while len(out) < lines - 1:
        out += [
            f"  param price_{i}: Currency<USD> = ${100 + i}.50 {{",
            '    source: "generated",',
            '    method: "observed",',
            "    confidence: 0.9",
            "  }",
            f"  param growth_{i}: Rate per Month = {1 + i % 7}% / 1mo {{",
            '    source: "generated", method: "fitted", confidence: 0.8',
            "  }",
            f"  var units_{i}: TimeSeries<Fraction>",
            f"  units_{i}[0] = {10 + i}",
            f"  units_{i}[t+1] = units_{i}[t] * (1 + growth_{i})",
            f"  var revenue_{i}: TimeSeries<Currency<USD>>",
            f"  revenue_{i}[t] = price_{i} * units_{i}[t] + if t > 2 then $1 * (t % 12) else $0",
            f"  constraint revenue_ok_{i}: revenue_{i}[t] >= $0 {{ severity: warning, message: \"low at {{t}}\" }}",
            "",
        ]
        i += 1
    out.append("}")
    return "\n".join(out) + "\n"
