"""Constraint behaviour of two runs: which constraints fire, on what share of paths, and the bump a change needs.

A constraint's violation rate is the share of paths on which it fired at least once (a deterministic run is one
path: 0 or 1). Rules: a fatal constraint that newly fires, or whose rate rises by more than the threshold (in
points: 2% -> 10% is 8 points), is major; any other change (a warning that newly fires, a constraint that stops
firing, a smaller rate change, a change of first step) is patch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pel.ir import nodes as ir
from pel.release.common import Change

if TYPE_CHECKING:
    from pel.backend.results import Result

# Change kinds this module reports.
KINDS = ("constraint_fires", "constraint_quiet", "constraint_rate")


@dataclass(frozen=True)
class Behaviour:
    """How one constraint behaved in one run."""

    severity: str  # fatal | warning
    rate: float  # share of paths that violated it at least once
    first_t: int | None  # the earliest step of a violation (None when it never fired)


@dataclass(frozen=True)
class ConstraintRuns:
    """One constraint in both runs (None where the version does not declare it)."""

    name: str
    old: Behaviour | None
    new: Behaviour | None

    def to_dict(self) -> dict[str, Any]:
        def side(b: Behaviour | None) -> dict[str, Any] | None:
            return None if b is None else {"severity": b.severity, "rate": b.rate, "first_t": b.first_t}

        return {"name": self.name, "old": side(self.old), "new": side(self.new)}


def of(result: Result, model: ir.Model) -> dict[str, Behaviour]:
    """Every declared constraint's behaviour in `result` (a run of `model`), in declaration order."""
    if result.constraints is not None:  # Monte Carlo: the engine's per-constraint statistics
        out = {}
        for c in model.constraints:
            entry = result.constraints.get(c.name) or {}
            first = entry.get("first_violation_t")
            out[c.name] = Behaviour(c.severity, float(entry.get("rate", 0.0)), first["min"] if first else None)
        return out
    first: dict[str, int] = {}
    for log in (*result.warnings, *result.violations):
        first[log["constraint"]] = min(first.get(log["constraint"], log["t"]), log["t"])
    return {c.name: Behaviour(c.severity, 1.0 if c.name in first else 0.0, first.get(c.name))
            for c in model.constraints}


def compare(old: dict[str, Behaviour], new: dict[str, Behaviour]) -> list[ConstraintRuns]:
    """Pair the constraints of both runs: the old version's order, then those only the new one declares."""
    names = list(old) + [n for n in new if n not in old]
    return [ConstraintRuns(n, old.get(n), new.get(n)) for n in names]


def changes(pairs: list[ConstraintRuns], threshold: float) -> list[Change]:
    """The behaviour changes and the bump each requires (rules in the module docstring)."""
    out = []
    for pair in pairs:
        change = _change(pair, threshold)
        if change is not None:
            out.append(change)
    return out


_QUIET = Behaviour("warning", 0.0, None)


def _change(pair: ConstraintRuns, threshold: float) -> Change | None:
    a, b = pair.old or _QUIET, pair.new or _QUIET
    name, severity = pair.name, (pair.new or pair.old or _QUIET).severity
    if a.rate == 0 and b.rate > 0:
        fatal = b.severity == "fatal"
        return Change("constraint_fires", name, f"constraint {name} ({severity}) now fires: {_where(b)}",
                      "major" if fatal else "patch", "a fatal constraint newly stops runs" if fatal else "")
    if a.rate > 0 and b.rate == 0:
        return Change("constraint_quiet", name, f"constraint {name} ({severity}) no longer fires (was {_where(a)})",
                      "patch")
    if a.rate == b.rate and a.first_t == b.first_t:
        return None
    rise = b.rate - a.rate
    beyond = abs(rise) > threshold
    detail = f"constraint {name} ({severity}) violation rate {_pct(a.rate)} -> {_pct(b.rate)}"
    if a.first_t != b.first_t:
        detail += f", first at t={b.first_t} (was t={a.first_t})"
    if beyond and rise > 0 and b.severity == "fatal":
        return Change("constraint_rate", name, detail, "major",
                      f"more paths stop, by more than the {threshold * 100:g}% threshold")
    return Change("constraint_rate", name, detail, "patch")


def _where(b: Behaviour) -> str:
    at = f"first at t={b.first_t}"
    return at if b.rate == 1.0 else f"on {_pct(b.rate)} of paths, {at}"


def _pct(rate: float) -> str:
    return f"{rate * 100:.2f}%"
