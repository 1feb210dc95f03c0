"""Parameter drift: calibration on rolling windows of W steps, the series of each parameter's estimates with their
intervals, and a verdict on the latest one against what the model declares.

Verdict (the latest window's estimate): an uncertain parameter drifts when the estimate lies outside the P5–P95
range of its declared distribution; a fixed one when it lies more than 3 standard errors from its declared value
(and differs from it by more than one part in a million: the optimiser's precision)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pel.backend.quantiles import quantile
from pel.backend.results import json_float
from pel.diagnostics import simple
from pel.ir import nodes as ir
from pel.monitor.actuals import Actuals
from pel.monitor.calibrate import Calibration, CalibrationError, FitSettings, Problem, fit_problem, fmt
from pel.overrides import to_declared

SIGMAS = 3.0  # a fixed parameter drifts beyond this many standard errors
RELATIVE_TOLERANCE = 1e-6  # and beyond this relative difference
LEVELS = (0.05, 0.95)


# ---------------------------------------------------------------------------------------------
# The declared distribution's quantiles
# ---------------------------------------------------------------------------------------------


def declared_range(param: ir.Param, model: ir.Model, levels: tuple[float, float] = LEVELS
                   ) -> tuple[float, float] | None:
    """The P5 and P95 (or other `levels`) of a parameter's declared distribution, in its declared unit; None for
    a fixed parameter or a distribution whose parameters are not constants."""
    if param.distribution is None:
        return None
    out = []
    for q in levels:
        v = quantile(param.distribution, q)
        if v is None:
            return None
        out.append(to_declared(param.type, v, model))
    return out[0], out[1]


def distance(value: float, declared: float, std_error: float | None) -> float | None:
    """How far an estimate lies from the declared value, in its standard errors, signed (+: above); None without a
    standard error, ±inf for a zero one (0 when the two agree to the optimiser's precision)."""
    if std_error is None or not math.isfinite(std_error):
        return None
    diff = value - declared
    if abs(diff) <= RELATIVE_TOLERANCE * max(abs(value), abs(declared)):
        return 0.0
    if std_error <= 0:
        return math.copysign(math.inf, diff)
    return diff / std_error


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowEstimate:
    """One parameter's estimate on one window."""

    start: int
    end: int
    n: int  # observations in the window
    value: float
    std_error: float | None
    ci95: tuple[float, float] | None
    ok: bool  # the window's fit converged and is identified

    def to_dict(self) -> dict:
        return {"window": [self.start, self.end], "n": self.n, "value": _num(self.value),
                "std_error": _num(self.std_error),
                "ci95": None if self.ci95 is None else [_num(self.ci95[0]), _num(self.ci95[1])], "ok": self.ok}


@dataclass
class ParameterDrift:
    """The estimates of one parameter across the windows, and the verdict on the latest."""

    name: str
    unit: str
    declared: float  # the declared value (a distribution's central value)
    distribution: str | None  # as written, for an uncertain parameter
    p5: float | None
    p95: float | None
    estimates: list[WindowEstimate]
    verdict: str  # "drift", "ok" or "unknown"
    reason: str

    @property
    def latest(self) -> WindowEstimate | None:
        return self.estimates[-1] if self.estimates else None

    @property
    def distance(self) -> float | None:
        """The latest estimate's distance from the declared value in standard errors (None when it has none or its
        window's fit failed): `pel_parameter_drift`."""
        latest = self.latest
        if latest is None or not latest.ok:
            return None
        return distance(latest.value, self.declared, latest.std_error)

    def to_dict(self) -> dict:
        latest = self.latest
        return {"unit": self.unit, "declared": _num(self.declared), "distribution": self.distribution,
                "p5": _num(self.p5), "p95": _num(self.p95),
                "latest": None if latest is None else latest.to_dict(), "distance_se": _num(self.distance),
                "verdict": self.verdict, "reason": self.reason,
                "estimates": [e.to_dict() for e in self.estimates]}


@dataclass
class DriftReport:
    """Drift of the fitted parameters over rolling windows."""

    settings: FitSettings
    window: int
    stride: int
    windows: list[tuple[int, int]]  # the windows fitted, in order
    parameters: list[ParameterDrift]
    latest_ok: bool  # the latest window's fit converged and is identified
    notes: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> list[str]:
        return [p.name for p in self.parameters if p.verdict == "drift"]

    def to_dict(self) -> dict:
        return {
            **self.settings.to_dict(),
            "objective": self.settings.objective, "window": self.window, "stride": self.stride,
            "windows": [list(w) for w in self.windows],
            "rule": {"uncertain": "latest estimate outside the declared distribution's P5-P95",
                     "fixed": f"latest estimate more than {SIGMAS:g} standard errors from the declared value"},
            "parameters": {p.name: p.to_dict() for p in self.parameters},
            "latest_ok": self.latest_ok, "drifted": self.drifted, "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------
# Rolling calibration
# ---------------------------------------------------------------------------------------------


def windows_of(first: int, last: int, window: int, stride: int) -> list[tuple[int, int]]:
    """Windows [s, s + window - 1] from `first`, every `stride` steps, the last one always ending at `last`."""
    starts = list(range(first, last - window + 2, stride))
    if starts and starts[-1] != last - window + 1:
        starts.append(last - window + 1)
    return [(s, s + window - 1) for s in starts]


def drift(model: Any, actuals: Actuals, fit: Sequence[str], *, window: int, stride: int = 1,
          mode: str | None = None, seed: int | None = None, runs: int | None = None, steps: int | None = None,
          params: Mapping[str, Any] | None = None, variables: Sequence[str] | None = None,
          objective: str = "scaled", bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
          max_evals: int | None = None, threads: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> DriftReport:
    """Fit `fit` on every window of `window` steps of `actuals` (every `stride` steps, the last window ending at
    the latest observation) as `calibrate` does, and judge the latest estimates against the declared values.

    Each window's fit starts from the previous window's estimate (the first from the declared values); the model
    still runs from t = 0, so a window late in the data is matched by what the model says there: fit a level
    parameter too (the initial value) when a rate is fitted on windows. Raises CalibrationError (E0909, E0911,
    E0913). `progress` is called before every run of the model (and between blocks of Monte Carlo paths); an
    exception it raises ends the check."""
    problem = Problem(model, actuals, fit, mode=mode, seed=seed, runs=runs, steps=steps, params=params,
                      variables=variables, objective=objective, bounds=bounds, threads=threads, progress=progress)
    if window < 1 or stride < 1:
        raise CalibrationError(simple("E0913", f"--window and --stride must be at least 1, got {window} and {stride}"))
    obs = problem.observations()
    if not obs:
        raise CalibrationError(simple("E0913", "no observations to fit"))
    first, last = min(o.t for o in obs), max(o.t for o in obs)
    if last - first + 1 < window:
        raise CalibrationError(simple("E0913", f"a window of {window} steps is longer than the data, which span "
                                               f"t = {first}..{last} ({last - first + 1} steps)",
                                      hint=f"use --window {last - first + 1} or less"))
    p = len(problem.targets)
    fits: list[tuple[tuple[int, int], Calibration]] = []
    notes = list(problem.notes)
    skipped = []
    start: dict[str, float] | None = None
    for w in windows_of(first, last, window, stride):
        if len(problem.observations(w)) < p:
            skipped.append(w)
            continue
        cal = fit_problem(problem, window=w, max_evals=max_evals, start=start)
        fits.append((w, cal))
        start = cal.values() if cal.ok else None
    if skipped:
        shown = ", ".join(f"{a}..{b}" for a, b in skipped[:5]) + (f" and {len(skipped) - 5} more"
                                                                  if len(skipped) > 5 else "")
        notes.append(f"{len(skipped)} window(s) with fewer than {p} observations not fitted: t = {shown}")
    if not fits:
        raise CalibrationError(simple("E0913", f"no window of {window} steps holds {p} observations",
                                      hint="use a longer --window"))
    latest_cal = fits[-1][1]
    if fits[-1][0][1] != last:
        notes.append(f"the latest window fitted ends at t = {fits[-1][0][1]}, before the latest observation "
                     f"(t = {last})")
    for message in latest_cal.notes:
        notes.append(f"latest window: {message}")
    model_ir = problem.program.model
    parameters = []
    for k, target in enumerate(problem.targets):
        series = []
        for (a, b), cal in fits:
            e = cal.estimates[k]
            series.append(WindowEstimate(a, b, cal.n, e.value, e.std_error, e.ci95, cal.ok))
        band = declared_range(target.param, model_ir)
        verdict, reason = _verdict(target.param, target.declared, band, series[-1], latest_cal)
        dist = target.param.value_text if target.param.distribution is not None else None
        parameters.append(ParameterDrift(target.param.name, target.param.type.unit, target.declared, dist,
                                         band[0] if band else None, band[1] if band else None, series, verdict,
                                         reason))
    return DriftReport(problem.fit_settings(), window, stride, [w for w, _ in fits], parameters, latest_cal.ok, notes)


def _verdict(param: ir.Param, declared: float, band: tuple[float, float] | None, latest: WindowEstimate,
             cal: Calibration) -> tuple[str, str]:
    v = latest.value
    if not cal.ok:
        why = "did not converge" if not cal.converged else "does not identify every parameter"
        return "unknown", f"the latest window's fit {why}"
    if param.distribution is not None:
        if band is None:
            return "unknown", f"the P5-P95 of {param.value_text} is not known (its parameters are not constants)"
        lo, hi = band
        if v < lo or v > hi:
            side = "below P5" if v < lo else "above P95"
            return "drift", f"{fmt(v)} is {side} of the declared {param.value_text} (P5-P95 {fmt(lo)}..{fmt(hi)})"
        return "ok", f"{fmt(v)} is within the declared P5-P95 {fmt(lo)}..{fmt(hi)}"
    d = distance(v, declared, latest.std_error)
    if d is None:
        return "unknown", "the latest estimate has no standard error"
    z = abs(d)
    if z > SIGMAS:
        z_text = f"{z:.1f}" if math.isfinite(z) else "infinitely many"
        return "drift", (f"{fmt(v)} is {z_text} standard errors from the declared {fmt(declared)} "
                         f"(more than {SIGMAS:g})")
    return "ok", f"{fmt(v)} is {z:.1f} standard errors from the declared {fmt(declared)}"


def _num(x: float | None) -> float | None:
    return None if x is None else json_float(x)


# ---------------------------------------------------------------------------------------------
# Text report
# ---------------------------------------------------------------------------------------------


def render_text(report: DriftReport, max_rows: int = 12) -> str:
    """Per parameter: the declared value or range, the estimates of the latest windows, the verdict."""
    s = report.settings
    lines = [f"pel drift: {s.model_name} against {s.data_file}",
             f"  {s.describe()}; {len(report.windows)} window(s) of "
             f"{report.window} steps, every {report.stride}; objective: {s.objective} least squares"]
    for p in report.parameters:
        declared = (f"{p.distribution}: P5-P95 {fmt(p.p5)}..{fmt(p.p95)}" if p.distribution
                    else f"declared {fmt(p.declared)}")
        lines.append(f"{p.name} ({p.unit or 'no unit'}), {declared}")
        rows = [["window", "n", "estimate", "std error", "95% interval"]]
        shown = p.estimates[-max_rows:]
        for e in shown:
            ci = "n/a" if e.ci95 is None else f"[{fmt(e.ci95[0])}, {fmt(e.ci95[1])}]"
            rows.append([f"{e.start}..{e.end}", str(e.n), fmt(e.value) + ("" if e.ok else " (!)"),
                         fmt(e.std_error), ci])
        if len(p.estimates) > len(shown):
            lines.append(f"  … {len(p.estimates) - len(shown)} earlier window(s) in --format json")
        widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
        for r in rows:
            lines.append("  " + "  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in
                                                                      zip(r[1:], widths[1:], strict=True)]).rstrip())
        lines.append(f"  {p.verdict.upper()}: {p.reason}")
    if any(not e.ok for p in report.parameters for e in p.estimates):
        lines.append("(!) the window's fit did not converge or does not identify every parameter")
    lines.extend(f"note: {n}" for n in report.notes)
    lines.append(f"drift: {', '.join(report.drifted)}" if report.drifted else "no drift")
    return "\n".join(lines) + "\n"
