"""Goal seek: the value of one parameter at which a statistic of an output meets a target, found by a bracketing
root finder (Brent's method) under common random numbers, in a bounded number of simulations.

Every simulation runs the same paths (the same seed: the same parameter scores and per-step draws) with only the
varied parameter changed, so the statistic moves with the parameter alone and the root finder sees a function, not
noise. A statistic's Monte Carlo standard error comes from batch means: the paths split into 20 batches of equal
size in path order, the statistic computed in each, SE = sd(batches) / √20 (√(p(1−p)/n) for success_rate, the
sample SE for the mean)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pel.backend.results import json_float
from pel.diagnostics import PelError, simple
from pel.ir import nodes as ir
from pel.overrides import to_steps

STATS = ("value", "mean", "p5", "p10", "p25", "p50", "p75", "p90", "p95", "success_rate")
MAX_SIMULATIONS = 25
BATCHES = 20
_TARGET = re.compile(r"^\s*(\w+)\s*\(\s*(\w+)\s*(?:@\s*(\d+))?\s*\)\s*(>=|<=|=)\s*(\S+)\s*$")


class SolveError(PelError):
    """A goal seek that cannot be set up: a malformed target, an unknown parameter or output, a bad range."""

    phase = "analysis"


@dataclass(frozen=True)
class Target:
    """STAT(VAR[@T]) OP VALUE."""

    stat: str
    output: str
    t: int | None
    op: str
    value: float

    @property
    def text(self) -> str:
        at = "" if self.t is None else f"@{self.t}"
        return f"{self.stat}({self.output}{at}) {self.op} {self.value:g}"


def parse_target(text: str) -> Target:
    """`p10(cash@24) >= 0`, `mean(mrr) = 150000`, `success_rate(cash) >= 0.95`."""
    m = _TARGET.match(text)
    if m is None:
        raise SolveError(simple("E0011", f"--target {text!r}: expected STAT(VAR[@T]) OP VALUE, e.g. "
                                         "\"p10(cash@24) >= 0\"", hint=f"STAT: {', '.join(STATS)}; OP: =, >=, <="))
    stat, output, at, op, raw = m.groups()
    if stat not in STATS:
        raise SolveError(simple("E0011", f"--target: unknown statistic {stat!r}", hint=f"one of {', '.join(STATS)}"))
    try:
        value = float(raw.replace("_", "").replace(",", "").lstrip("$"))
    except ValueError:
        raise SolveError(simple("E0011", f"--target: {raw!r} is not a number")) from None
    if not math.isfinite(value):
        raise SolveError(simple("E0011", f"--target: {raw!r} is not a finite number"))
    return Target(stat, output, None if at is None else int(at), op, value)


@dataclass
class Simulation:
    """One run at one value of the varied parameter (declared unit)."""

    value: float
    achieved: float
    se: float

    def to_dict(self) -> dict[str, Any]:
        return {"value": json_float(self.value), "achieved": json_float(self.achieved), "se": json_float(self.se)}


@dataclass
class Solution:
    """The outcome of a goal seek."""

    model_name: str
    parameter: str
    unit: str
    target: Target
    t: int
    mode: str
    seed: int
    runs: int | None
    between: tuple[float, float]
    status: str  # "solved" | "unreachable" | "not_converged"
    value: float | None  # the parameter value where the statistic meets the target
    achieved: float | None
    se: float | None
    holds: str | None  # e.g. "monthly_growth >= 0.061 meets p10(cash@24) >= 0"
    simulations: list[Simulation] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model_name, "parameter": self.parameter, "unit": self.unit, "target": self.target.text,
                "t": self.t, "mode": self.mode, "seed": self.seed, "runs": self.runs,
                "between": [json_float(self.between[0]), json_float(self.between[1])], "status": self.status,
                "value": None if self.value is None else json_float(self.value),
                "achieved": None if self.achieved is None else json_float(self.achieved),
                "se": None if self.se is None else json_float(self.se), "holds": self.holds,
                "simulations_used": len(self.simulations), "simulations": [s.to_dict() for s in self.simulations],
                "message": self.message}


def solve(program: ir.Program, vary: str, target: Target, *, between: tuple[float, float] | None = None,
          mode: str | None = None, seed: int = 42, runs: int = 1000, steps: int | None = None,
          params: dict[str, float] | None = None, threads: int = 1) -> Solution:
    """Find the value of `vary` (declared unit) in `between` where the target's statistic equals its value, in at
    most MAX_SIMULATIONS simulations; `params` (step units) fix other parameters."""
    from scipy.optimize import brentq

    model = program.model
    p = next((q for q in model.params if q.name == vary), None)
    if p is None or not p.holds_number:
        raise SolveError(simple("E0600", f"--vary {vary}: not a numeric parameter of {model.name}",
                                hint="parameters: " + ", ".join(q.name for q in model.params)))
    T = model.time_horizon if steps is None else steps
    t = T if target.t is None else target.t
    if not 0 <= t <= T:
        raise SolveError(simple("E0011", f"--target: step {t} is outside the run's steps 0..{T}"))
    mode = mode or ("deterministic" if target.stat == "value" else "monte_carlo")
    if mode == "deterministic" and target.stat not in ("value", "mean", "success_rate"):
        raise SolveError(simple("E0011", f"--target: {target.stat} needs --mode monte_carlo"))
    lo, hi = between if between is not None else _default_range(program, p, params)
    if not lo < hi:
        raise SolveError(simple("E0011", f"--between: {lo:g} is not below {hi:g}"))
    fixed = dict(params or {})
    evaluate = _evaluator(program, p, target, t, mode, seed, runs, T, fixed, threads)
    sims: list[Simulation] = []
    cache: dict[float, Simulation] = {}

    class _Budget(Exception):
        pass

    def g(x: float) -> float:
        if x not in cache:
            if len(sims) >= MAX_SIMULATIONS:
                raise _Budget()
            achieved, se = evaluate(x)
            cache[x] = Simulation(x, achieved, se)
            sims.append(cache[x])
        return cache[x].achieved - target.value

    base = Solution(model.name, vary, p.type.unit, target, t, mode, seed, runs if mode == "monte_carlo" else None,
                    (lo, hi), "unreachable", None, None, None, None, sims)
    g_lo, g_hi = g(lo), g(hi)
    if not (math.isfinite(g_lo) and math.isfinite(g_hi)):
        base.message = (f"the statistic has no value at an end of the range ({vary} = {lo:g}: {sims[0].achieved}, "
                        f"{hi:g}: {sims[1].achieved}); narrow --between")
        return base
    if g_lo == 0 or g_hi == 0:
        x = lo if g_lo == 0 else hi
        return _solved(base, cache[x], g_lo, g_hi)
    if (g_lo > 0) == (g_hi > 0):
        reached = sorted((sims[0].achieved, sims[1].achieved))
        base.message = (f"{target.stat}({target.output}@{t}) stays between {reached[0]:g} and {reached[1]:g} for "
                        f"{vary} in [{lo:g}, {hi:g}]: {target.value:g} is not reached in this range; widen --between")
        return base
    width = hi - lo
    try:
        root = brentq(g, lo, hi, xtol=1e-9 * max(width, 1e-300), rtol=4 * np.finfo(float).eps,
                      maxiter=MAX_SIMULATIONS - 2)
    except (_Budget, RuntimeError):
        best = min(sims, key=lambda s: abs(s.achieved - target.value))
        base.status, base.value, base.achieved, base.se = "not_converged", best.value, best.achieved, best.se
        base.message = f"no root within {MAX_SIMULATIONS} simulations; the closest value is shown"
        return base
    g(root)
    return _solved(base, cache[root], g_lo, g_hi)


def _solved(base: Solution, sim: Simulation, g_lo: float, g_hi: float) -> Solution:
    base.status, base.value, base.achieved, base.se = "solved", sim.value, sim.achieved, sim.se
    tgt = base.target
    increasing = g_hi > g_lo
    if tgt.op == "=":
        base.holds = f"{base.parameter} = {sim.value:.6g} gives {tgt.text}"
    else:
        wants_more = tgt.op == ">="
        side = ">=" if wants_more == increasing else "<="
        base.holds = f"{base.parameter} {side} {sim.value:.6g} meets {tgt.text} (within [{base.between[0]:g}, " \
                     f"{base.between[1]:g}])"
    base.message = f"solved in {len(base.simulations)} simulations"
    return base


def _default_range(program: ir.Program, p: ir.Param, params: dict[str, float] | None) -> tuple[float, float]:
    """[0, 2x] around the central value x (negative: [2x, 0]; zero: [-1, 1]), in the declared unit."""
    from pel.backend import engine

    base = engine.run(program, steps=0, params=dict(params or {}))
    x = next(a["value"] for a in base.assumptions if a["name"] == p.name)
    x = float(x)
    if x > 0:
        return 0.0, 2 * x
    if x < 0:
        return 2 * x, 0.0
    return -1.0, 1.0


def _evaluator(program: ir.Program, p: ir.Param, target: Target, t: int, mode: str, seed: int, runs: int, T: int,
               fixed: dict[str, float], threads: int):
    """x (declared unit) -> (the statistic, its Monte Carlo standard error)."""
    from pel.backend import engine
    from pel.backend.design import Design

    model = program.model
    if mode == "deterministic":
        def det(x: float) -> tuple[float, float]:
            r = engine.run(program, steps=T, seed=seed, params={**fixed, p.name: to_steps(p.type, x, model)})
            if target.stat == "success_rate":
                return (1.0 if r.status == "success" else 0.0), 0.0
            values = r[target.output].value
            return (float(values[t]) if t < len(values) else math.nan), 0.0
        return det
    scores: list[np.ndarray] = []

    def mc(x: float) -> tuple[float, float]:
        design = Design(program, [(target.output, t)], steps=T, params={**fixed, p.name: to_steps(p.type, x, model)})
        if not scores:
            scores.append(design.random_scores(seed, runs))
        ev = design.evaluate(scores[0], seed, threads=threads)
        if target.stat == "success_rate":
            ok = (ev.status == 0).astype(float)
            share = float(ok.mean())
            return share, math.sqrt(share * (1 - share) / len(ok))
        y = ev.targets[:, 0]
        stat = _statistic(target.stat)
        value = stat(y[np.isfinite(y)])
        batches = [stat(b[np.isfinite(b)]) for b in np.array_split(y, BATCHES)]
        if target.stat == "mean":
            finite = y[np.isfinite(y)]
            se = float(finite.std(ddof=1) / math.sqrt(len(finite))) if len(finite) > 1 else math.nan
        else:
            se = float(np.std(batches, ddof=1) / math.sqrt(BATCHES))
        return value, se

    return mc


def _statistic(stat: str):
    if stat in ("mean", "value"):
        return lambda v: float(v.mean()) if len(v) else math.nan
    q = float(stat[1:])
    return lambda v: float(np.percentile(v, q)) if len(v) else math.nan


def render_text(sol: Solution) -> str:
    runs = f", {sol.runs:,} paths" if sol.runs else ""
    lines = [f"pel solve: {sol.model_name}: vary {sol.parameter} in [{sol.between[0]:g}, {sol.between[1]:g}] "
             f"{sol.unit} for {sol.target.text} ({sol.mode}{runs}, seed {sol.seed})"]
    if sol.status == "solved":
        se = f" ± {sol.se:.3g} (MC standard error)" if sol.se else ""
        lines.append(f"  {sol.parameter} = {sol.value:.10g} {sol.unit}".rstrip())
        lines.append(f"  achieved {sol.target.stat}({sol.target.output}@{sol.t}) = {sol.achieved:.10g}{se}")
        lines.append(f"  {sol.holds}")
    elif sol.status == "not_converged":
        lines.append(f"  NOT CONVERGED: {sol.message}: {sol.parameter} = {sol.value:.10g}, achieved "
                     f"{sol.achieved:.10g}")
    else:
        lines.append(f"  UNREACHABLE: {sol.message}")
    lines.append(f"  {len(sol.simulations)} simulations")
    return "\n".join(lines) + "\n"

