"""`pel diff`: structural and output changes between two versions of a model, and the semver bump they require.

Rules (seed tutorial 10, "Semantic Versioning" and its quiz): major — a parameter or output removed, a type or
unit changed, a constraint raised from warning to fatal, the new version stopping on a fatal constraint where
the old did not, an output moving more than the threshold (default 5%); minor — parameters or outputs added;
patch — anything else that changed (defaults, distributions, provenance, formulas, constraints, small moves).
Constraint behaviour in the runs counts too (pel.release.behaviour): a fatal constraint that newly fires is major.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from pel.ir import nodes as ir
from pel.release import behaviour
from pel.release.common import BUMPS, DEFAULT_ATOL, Change, Loaded, shape

# Change kinds found by running both versions (the others come from the structure alone).
RUN_KINDS = ("output_moved", "run_status", *behaviour.KINDS)


@dataclass
class OutputDiff:
    """The largest relative difference of one common output over the compared steps."""

    name: str
    max_rel_diff: float  # |new - old| / |old| over the steps where |new - old| > atol; inf where old is 0 (or NaN)
    t: int | None  # the step where it occurs (first such step)
    old: float | None
    new: float | None
    steps_compared: int
    max_abs_diff: float = 0.0  # largest |new - old| over the compared steps (inf with one side NaN)


@dataclass
class DiffReport:
    old: str
    new: str
    options: dict[str, Any]
    changes: list[Change] = field(default_factory=list)
    outputs: list[OutputDiff] = field(default_factory=list)
    constraints: list[behaviour.ConstraintRuns] = field(default_factory=list)

    @property
    def bump(self) -> str:
        return max((c.bump for c in self.changes), key=BUMPS.index, default="none")

    def allowed(self, allow: str) -> bool:
        return BUMPS.index(self.bump) <= BUMPS.index(allow)

    def to_dict(self, allow: str) -> dict[str, Any]:
        def num(x: float | None) -> float | str | None:
            return "inf" if x is not None and math.isinf(x) else x

        outs = [{**asdict(o), "max_rel_diff": num(o.max_rel_diff), "max_abs_diff": num(o.max_abs_diff)}
                for o in self.outputs]
        return {
            "old": self.old, "new": self.new, "options": self.options,
            "changes": [asdict(c) for c in self.changes], "outputs": outs,
            "constraints": [c.to_dict() for c in self.constraints],
            "bump": self.bump,
            "reasons": [f"{c.bump}: {c.detail}" + (f" ({c.reason})" if c.reason else "")
                        for c in self.changes if c.bump == self.bump],
            "allow": allow, "ok": self.allowed(allow),
        }


# ---------------------------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------------------------


def structural(old: ir.Model, new: ir.Model) -> list[Change]:
    """Every declaration-level difference, in a stable order: model, parameters, variables, constraints, outputs."""
    out: list[Change] = []
    if old.time_unit != new.time_unit:
        out.append(Change("time_unit", "model", f"time step unit {old.time_unit} -> {new.time_unit}", "major",
                          "every rate and series is read per step"))
    if old.time_horizon != new.time_horizon:
        out.append(Change("horizon", "model", f"horizon {old.time_horizon} -> {new.time_horizon} steps", "patch"))
    out += _params(old, new)
    out += _vars(old, new)
    out += _constraints(old, new)
    if shape(old.policies) != shape(new.policies):
        out.append(Change("policies", "model", "policies changed", "patch"))
    if shape(old.correlations) != shape(new.correlations):
        out.append(Change("correlations", "model", "parameter correlations changed", "patch"))
    output_changes = _outputs(old, new)
    shown = {c.subject for c in output_changes}
    out = [c for c in out if not (c.kind in ("var_added", "var_removed") and c.subject in shown)]
    return out + output_changes


def _params(old: ir.Model, new: ir.Model) -> list[Change]:
    a = {p.name: p for p in old.params}
    b = {p.name: p for p in new.params}
    out = [Change("param_removed", n, f"parameter removed: {n}", "major", "callers that set it break")
           for n in a if n not in b]
    out += [Change("param_added", n, f"parameter added: {n} ({b[n].type.display} = {b[n].value_text})", "minor",
                   "new parameter") for n in b if n not in a]
    for name in (n for n in a if n in b):
        p, q = a[name], b[name]
        if p.type.kind != q.type.kind:
            out.append(Change("param_retyped", name, f"parameter {name} retyped: {p.type.display} -> "
                              f"{q.type.display}", "major", "a type changed"))
        elif p.type != q.type:
            out.append(Change("param_reunited", name, f"parameter {name} re-united: {p.type.display} "
                              f"({p.type.unit or 'no unit'}) -> {q.type.display} ({q.type.unit or 'no unit'})",
                              "major", "a unit changed: overrides and readers mean another quantity"))
        if p.distribution is not None or q.distribution is not None:
            if shape(p.distribution) != shape(q.distribution) or shape(p.value) != shape(q.value):
                out.append(Change("param_distribution", name, f"parameter {name} distribution: "
                                  f"{p.value_text} -> {q.value_text}", "patch"))
        elif shape(p.value) != shape(q.value) or p.central != q.central:
            out.append(Change("param_default", name, f"parameter {name} default: {p.value_text} -> {q.value_text}",
                              "patch"))
        fields = [k for k in ("source", "method", "confidence", "freshness", "owner", "notes", "correlated_with",
                              "extra") if getattr(p.provenance, k) != getattr(q.provenance, k)]
        if fields:
            out.append(Change("param_provenance", name, f"parameter {name} provenance: {', '.join(fields)} changed",
                              "patch"))
    return out


def _vars(old: ir.Model, new: ir.Model) -> list[Change]:
    a = {v.name: v for v in old.vars}
    b = {v.name: v for v in new.vars}
    out = [Change("var_removed", n, f"variable removed: {n}", "patch") for n in a if n not in b]
    out += [Change("var_added", n, f"variable added: {n}", "patch") for n in b if n not in a]
    for name in (n for n in a if n in b):
        if a[name].type != b[name].type:
            out.append(Change("var_retyped", name, f"variable {name} retyped: {a[name].type.display} -> "
                              f"{b[name].type.display}", "major", "a type changed"))
        if shape(a[name].rules) != shape(b[name].rules):
            out.append(Change("var_formula", name, f"variable {name}: formula changed", "patch"))
    return out


def _constraints(old: ir.Model, new: ir.Model) -> list[Change]:
    a = {c.name: c for c in old.constraints}
    b = {c.name: c for c in new.constraints}
    out = [Change("constraint_removed", n, f"constraint removed: {n} ({a[n].severity})", "patch")
           for n in a if n not in b]
    out += [Change("constraint_added", n, f"constraint added: {n} ({b[n].severity})", "patch")
            for n in b if n not in a]
    for name in (n for n in a if n in b):
        c, d = a[name], b[name]
        if c.severity != d.severity:
            raised = c.severity == "warning" and d.severity == "fatal"
            out.append(Change("constraint_severity", name, f"constraint {name} severity: {c.severity} -> "
                              f"{d.severity}", "major" if raised else "patch",
                              "a warning now stops runs" if raised else ""))
        parts = [k for k in ("condition", "scope", "message", "lookahead") if shape(getattr(c, k)) != shape(getattr(d, k))]
        if parts:
            out.append(Change("constraint_changed", name, f"constraint {name}: {', '.join(parts)} changed", "patch"))
    return out


def _outputs(old: ir.Model, new: ir.Model) -> list[Change]:
    a, b = old.output_names(), new.output_names()
    out = [Change("output_removed", n, f"output removed: {n}", "major", "readers of the results break")
           for n in a if n not in b]
    out += [Change("output_added", n, f"output added: {n}", "minor", "new output") for n in b if n not in a]
    return out


# ---------------------------------------------------------------------------------------------
# Outputs, run with common random numbers
# ---------------------------------------------------------------------------------------------


def largest_relative(old: np.ndarray, new: np.ndarray, atol: float = 0.0) -> tuple[float, int | None]:
    """max |new-old|/|old| over the common steps where |new-old| > atol, and the first step where it occurs
    (inf where old is 0 or one side is NaN; 0 with step 0 when every step is within atol)."""
    n = min(len(old), len(new))
    if n == 0:
        return 0.0, None
    x, y = np.asarray(old[:n], float), np.asarray(new[:n], float)
    diff = absolute_differences(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(diff <= atol, 0.0, diff / np.abs(x))
    rel = np.where(np.isnan(rel), np.inf, rel)  # 0/0 cannot occur past atol >= 0; NaN here is a NaN side
    k = int(np.argmax(rel))
    return float(rel[k]), k


def absolute_differences(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|y - x| per step: 0 where both are NaN, inf where one is NaN or both are infinite and differ."""
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    with np.errstate(invalid="ignore"):
        diff = np.abs(y - x)
    diff = np.where(np.isnan(diff), np.inf, diff)  # one side NaN, or inf - inf
    same_inf = np.isinf(x) & (x == y)
    return np.where((nan_x & nan_y) | same_inf, 0.0, diff)


def outputs(old: Loaded, new: Loaded, *, mode: str, seed: int, steps: int, runs: int | None,
            threshold: float, atol: float = DEFAULT_ATOL,
            ) -> tuple[list[OutputDiff], list[Change], list[behaviour.ConstraintRuns]]:
    """Run both versions with the same seed (parameters keep their own random streams: common random numbers):
    the output differences, the changes they make, and the constraint behaviour of both runs."""
    from pel.model import Model

    res_a = Model(old.program).run(mode, runs=runs, seed=seed, steps=steps)
    res_b = Model(new.program).run(mode, runs=runs, seed=seed, steps=steps)
    diffs: list[OutputDiff] = []
    changes: list[Change] = []
    for name in (n for n in res_a.variables if n in res_b.variables):
        va, vb = res_a[name].value, res_b[name].value
        rel, k = largest_relative(va, vb, atol)
        n = min(len(va), len(vb))
        largest = float(np.max(absolute_differences(np.asarray(va[:n], float), np.asarray(vb[:n], float)),
                            initial=0.0))
        at_a = float(va[k]) if k is not None and k < len(va) else None
        at_b = float(vb[k]) if k is not None and k < len(vb) else None
        t = int(res_a[name].t[k]) if k is not None else None
        diffs.append(OutputDiff(name, rel, t, at_a, at_b, n, largest))
        if rel > 0:
            moved = rel > threshold
            changes.append(Change("output_moved", name, f"output {name} moves {_pct(rel)} at t={t}",
                                  "major" if moved else "patch",
                                  f"more than the {threshold * 100:g}% threshold" if moved else ""))
    if res_a.status != res_b.status:
        stops = res_b.status == "constraint_violation"
        changes.append(Change("run_status", "model", f"deterministic run: {res_a.status} -> {res_b.status}"
                              + (f" ({res_b.message})" if res_b.message else ""),
                              "major" if stops else "patch", "the new version stops on a fatal constraint"
                              if stops else ""))
    runs_of = behaviour.compare(behaviour.of(res_a, old.model), behaviour.of(res_b, new.model))
    changes += behaviour.changes(runs_of, threshold)
    return diffs, changes, runs_of


def _pct(rel: float) -> str:
    return "∞%" if math.isinf(rel) else f"{rel * 100:.2f}%"


def compare(old: Loaded, new: Loaded, *, mode: str = "deterministic", seed: int = 42, steps: int | None = None,
            runs: int | None = None, threshold: float = 0.05, atol: float = DEFAULT_ATOL) -> DiffReport:
    """The whole diff of two loaded versions."""
    if steps is None:
        steps = min(old.model.time_horizon, new.model.time_horizon)
    if mode == "monte_carlo" and runs is None:
        runs = 1000
    report = DiffReport(old.path, new.path, {"mode": mode, "seed": seed, "steps": steps, "runs": runs,
                                             "threshold": threshold, "atol": atol})
    report.changes = structural(old.model, new.model)
    report.outputs, moved, report.constraints = outputs(old, new, mode=mode, seed=seed, steps=steps, runs=runs,
                                                        threshold=threshold, atol=atol)
    report.changes += moved
    return report


def render_text(report: DiffReport, allow: str) -> str:
    o = report.options
    runs = f", runs {o['runs']}" if o["mode"] == "monte_carlo" else ""
    lines = [f"pel diff {report.old} -> {report.new}  ({o['mode']}, seed {o['seed']}, steps 0..{o['steps']}{runs}, "
             f"threshold {o['threshold'] * 100:g}%, atol {o['atol']:g})", ""]
    structural_changes = [c for c in report.changes if c.kind not in RUN_KINDS]
    lines.append("Structural changes:" if structural_changes else "Structural changes: none")
    lines += [f"  {c.bump:<5}  {c.detail}" for c in structural_changes]
    lines += ["", "Output changes (largest relative difference over the common steps):"]
    lines += _output_lines(report.outputs)
    lines += [f"  {c.bump:<5}  {c.detail}" for c in report.changes if c.kind == "run_status"]
    fired = [c for c in report.changes if c.kind in behaviour.KINDS]
    lines += ["", "Constraint behaviour:" if fired else "Constraint behaviour: unchanged"]
    lines += [f"  {c.bump:<5}  {c.detail}" for c in fired]
    bump = report.bump
    lines += ["", f"Required version bump: {bump.upper()}"]
    lines += [f"  - {c.detail}" + (f" ({c.reason})" if c.reason else "") for c in report.changes if c.bump == bump]
    verdict = "ok" if report.allowed(allow) else "NOT ALLOWED (exit 4)"
    lines.append(f"Allowed: {allow} -> {verdict}")
    return "\n".join(lines) + "\n"


def _output_lines(diffs: list[OutputDiff]) -> list[str]:
    width = max((len(d.name) for d in diffs), default=0)
    lines = []
    for d in diffs:
        if d.max_rel_diff == 0:
            within = f" within atol (largest |difference| {d.max_abs_diff:.3g})" if d.max_abs_diff > 0 else ""
            lines.append(f"  {d.name:<{width}}  unchanged{within}")
        else:
            lines.append(f"  {d.name:<{width}}  {_pct(d.max_rel_diff):>9} at t={d.t}  ({_num(d.old)} -> {_num(d.new)})")
    return lines


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.6g}"
