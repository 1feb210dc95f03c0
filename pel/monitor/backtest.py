"""Backtest metrics: a run's predictions against actuals, per variable and overall — points, MAPE, RMSE, MAE,
bias (predicted − actual) and, in Monte Carlo, p5–p95 / p25–p75 coverage and a CRPS estimated from percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pel.backend.results import Result, json_float
from pel.diagnostics import simple
from pel.ir import nodes as ir
from pel.monitor.actuals import Actuals, ActualsError

# The percentiles a Monte Carlo run keeps per point, and their levels: the CRPS is estimated from them.
QUANTILE_STATS = ("p5", "p10", "p25", "p50", "p75", "p90", "p95")
QUANTILE_LEVELS = np.array([0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95])
_P5, _P25, _P75, _P95 = 0, 2, 4, 6

CRPS_METHOD = ("from the run's percentiles: the exact CRPS of the forecast whose quantile function joins p5, p10, p25, "
               "p50, p75, p90 and p95 linearly and holds the outer 5% of each tail at p5 and p95")


# ---------------------------------------------------------------------------------------------
# Scores of a set of points
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Accuracy of predictions against actuals; None where a score is undefined (no points, no nonzero actual,
    no percentiles)."""

    n: int  # points compared
    mape: float | None  # mean |predicted − actual| / |actual| over the points whose actual is not 0, a fraction
    mape_points: int  # the points MAPE counts (n less those whose actual is 0)
    rmse: float | None  # root mean squared error, in the variable's unit
    mae: float | None  # mean absolute error
    bias: float | None  # mean of predicted − actual: positive when the model over-predicts
    coverage_90: float | None = None  # Monte Carlo: share of actuals within [p5, p95]
    coverage_50: float | None = None  # Monte Carlo: share of actuals within [p25, p75]
    crps: float | None = None  # Monte Carlo: mean CRPS (see crps_from_quantiles), in the variable's unit

    def to_dict(self, monte_carlo: bool) -> dict:
        out: dict = {"n": self.n, "mape": _num(self.mape), "mape_points": self.mape_points,
                     "zero_actuals": self.n - self.mape_points, "rmse": _num(self.rmse), "mae": _num(self.mae),
                     "bias": _num(self.bias)}
        if monte_carlo:
            out.update({"coverage_p5_p95": _num(self.coverage_90), "coverage_p25_p75": _num(self.coverage_50),
                        "crps": _num(self.crps)})
        return out

    def without_units(self) -> Scores:
        """The unit-free scores only (n, MAPE, coverage): what pools across variables of different units."""
        return Scores(self.n, self.mape, self.mape_points, None, None, None, self.coverage_90, self.coverage_50, None)


def score(predicted: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray,
          quantiles: np.ndarray | None = None) -> Scores:
    """Scores of `predicted` against `actual` (same length, finite); `quantiles` (n × 7: p5 … p95) adds coverage
    and CRPS."""
    p = np.asarray(predicted, dtype=float)
    a = np.asarray(actual, dtype=float)
    n = len(a)
    if n == 0:
        return Scores(0, None, 0, None, None, None)
    err = p - a
    nonzero = a != 0
    mape = float(np.mean(np.abs(err[nonzero]) / np.abs(a[nonzero]))) if nonzero.any() else None
    scores = Scores(n, mape, int(nonzero.sum()), float(np.sqrt(np.mean(err * err))), float(np.mean(np.abs(err))),
                    float(np.mean(err)))
    if quantiles is None:
        return scores
    q = np.asarray(quantiles, dtype=float)
    cover90 = float(np.mean((q[:, _P5] <= a) & (a <= q[:, _P95])))
    cover50 = float(np.mean((q[:, _P25] <= a) & (a <= q[:, _P75])))
    crps = float(np.mean(crps_from_quantiles(q, a)))
    return Scores(scores.n, scores.mape, scores.mape_points, scores.rmse, scores.mae, scores.bias, cover90, cover50,
                  crps)


def crps_from_quantiles(quantiles: np.ndarray, actual: np.ndarray, levels: np.ndarray = QUANTILE_LEVELS) -> np.ndarray:
    """The CRPS of each actual against the forecast whose quantile function F⁻¹ joins the given quantiles linearly
    and is flat beyond the first and last level (there it holds the first and last quantile).

    CRPS(F, y) = 2 ∫₀¹ (1{y < F⁻¹(τ)} − τ)(F⁻¹(τ) − y) dτ; on each piece of F⁻¹ the integrand is quadratic in τ
    once split where F⁻¹ crosses y, so Simpson's rule on the pieces is exact. A point forecast (all quantiles
    equal) gives |prediction − actual|. The tails beyond the outer levels are cut short, so for a forecast with
    long tails this is an estimate, not the CRPS of the run's full distribution."""
    q = np.maximum.accumulate(np.asarray(quantiles, dtype=float), axis=1)
    y = np.asarray(actual, dtype=float)
    taus = np.concatenate(([0.0], levels, [1.0]))
    qs = np.concatenate((q[:, :1], q, q[:, -1:]), axis=1)
    total = np.zeros(len(y))
    for k in range(len(taus) - 1):
        a, b, qa, qb = taus[k], taus[k + 1], qs[:, k], qs[:, k + 1]
        slope = (qb - qa) / (b - a)
        rising = slope > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            cross = np.where(rising, a + (y - qa) / np.where(rising, slope, 1.0), a)
        cross = np.clip(cross, a, b)
        total += _simpson(a, cross, a, qa, slope, y) + _simpson(cross, b, a, qa, slope, y)
    return 2.0 * total


def _simpson(lo: float | np.ndarray, hi: float | np.ndarray, a: float, qa: np.ndarray, slope: np.ndarray,
             y: np.ndarray) -> np.ndarray:
    """∫ over [lo, hi] of the pinball loss of the piece q(τ) = qa + slope·(τ − a) against y (Simpson: exact when
    the loss is one quadratic there)."""
    lo, hi = np.broadcast_to(lo, y.shape), np.broadcast_to(hi, y.shape)

    def loss(tau: np.ndarray) -> np.ndarray:
        q = qa + slope * (tau - a)
        return (np.where(y < q, 1.0, 0.0) - tau) * (q - y)

    return (hi - lo) / 6.0 * (loss(lo) + 4.0 * loss((lo + hi) / 2) + loss(hi))


# ---------------------------------------------------------------------------------------------
# A run against an actuals file
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One observation with the run's prediction there."""

    t: int
    actual: float
    predicted: float | None  # the run's value (in Monte Carlo the mean of the paths); None: the run has none there
    quantiles: tuple[float, ...] | None = None  # Monte Carlo: p5, p10, p25, p50, p75, p90, p95

    def to_dict(self) -> dict:
        out: dict = {"t": self.t, "actual": _num(self.actual), "predicted": _num(self.predicted),
                     "error": _num(None if self.predicted is None else self.predicted - self.actual)}
        if self.quantiles is not None:
            out.update({s: _num(v) for s, v in zip(QUANTILE_STATS, self.quantiles, strict=True)})
        return out


@dataclass(frozen=True)
class VariableReport:
    """The backtest of one variable."""

    name: str
    unit: str  # the declared unit label ("USD", "Customer", "" for a dimensionless number)
    points: list[Point]
    scores: Scores

    @property
    def missing(self) -> list[int]:
        """Steps observed where the run has no value (a deterministic run stopped early, no Monte Carlo path)."""
        return [p.t for p in self.points if p.predicted is None]

    @property
    def zero_actuals(self) -> list[int]:
        """Steps compared whose actual is 0 (left out of MAPE)."""
        return [p.t for p in self.points if p.predicted is not None and p.actual == 0]


@dataclass
class Report:
    """A backtest: the run's settings, each variable's scores, the overall scores, the MAPE gate and notes."""

    model_name: str
    model_hash: str
    actuals_file: str
    mode: str
    seed: int
    steps: int
    runs: int | None
    status: str  # the run's status
    variables: list[VariableReport]
    overall: Scores
    overall_unit: str | None  # the one unit of every variable, None when they differ (then no pooled RMSE…)
    max_mape: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def monte_carlo(self) -> bool:
        return self.mode == "monte_carlo"

    @property
    def exceeded(self) -> list[str]:
        """Variables whose MAPE is above max_mape."""
        if self.max_mape is None:
            return []
        return [v.name for v in self.variables if v.scores.mape is not None and v.scores.mape > self.max_mape]

    @property
    def ok(self) -> bool:
        return not self.exceeded

    def to_dict(self) -> dict:
        mc = self.monte_carlo
        out: dict = {"model": {"name": self.model_name, "hash": self.model_hash}, "actuals": self.actuals_file,
                     "mode": self.mode, "seed": self.seed, "steps": self.steps}
        if mc:
            out["runs"] = self.runs
        out.update({"status": self.status, "error": "predicted - actual",
                    "predicted": "mean of the paths" if mc else "value"})
        if mc:
            out["crps_method"] = CRPS_METHOD
        out["variables"] = {v.name: {"unit": v.unit, **v.scores.to_dict(mc), "points": [p.to_dict() for p in v.points]}
                            for v in self.variables}
        out["overall"] = {"unit": self.overall_unit, **self.overall.to_dict(mc)}
        out.update({"max_mape": self.max_mape, "exceeded": self.exceeded, "ok": self.ok, "notes": self.notes})
        return out


def compare(result: Result, actuals: Actuals, model: ir.Model, max_mape: float | None = None) -> Report:
    """Score `result` (a run of `model`) against `actuals`; `max_mape` (a fraction) is the gate `exceeded` reads."""
    mc = result.mode == "monte_carlo"
    units = {v.name: v.type.unit for v in model.vars}
    observed = set(actuals.variables())
    for obs in actuals.observations:
        if obs.variable not in result:
            raise ActualsError(simple("E0903", f"the run has no output {obs.variable!r}", obs.span))
    reports = [_variable(result, name, units.get(name, ""), actuals, mc) for name in result.variables
               if name in observed]
    overall = _score_points([p for v in reports for p in v.points], mc)
    unit_set = {v.unit for v in reports}
    one_unit = next(iter(unit_set)) if len(unit_set) == 1 else None
    report = Report(result.model_name, result.model_hash, actuals.file, result.mode, result.seed, result.steps,
                    result.runs, result.status, reports, overall if one_unit is not None else overall.without_units(),
                    one_unit, max_mape)
    report.notes = _notes(report, result)
    return report


def _variable(result: Result, name: str, unit: str, actuals: Actuals, mc: bool) -> VariableReport:
    var = result[name]
    points = []
    for obs in actuals.series(name):
        k = obs.t
        predicted: float | None = float(var.value[k]) if k < len(var.value) else None
        quantiles = tuple(float(getattr(var, s)[k]) for s in QUANTILE_STATS) if mc and predicted is not None else None
        if predicted is not None and not (math.isfinite(predicted) and all(map(math.isfinite, quantiles or ()))):
            predicted, quantiles = None, None
        points.append(Point(obs.t, obs.value, predicted, quantiles))
    return VariableReport(name, unit, points, _score_points(points, mc))


def _score_points(points: list[Point], mc: bool) -> Scores:
    """The scores of the points that have a prediction."""
    compared = [p for p in points if p.predicted is not None]
    quantiles = np.array([p.quantiles for p in compared], dtype=float) if mc and compared else None
    return score(np.array([p.predicted for p in compared], dtype=float), [p.actual for p in compared], quantiles)


def _notes(report: Report, result: Result) -> list[str]:
    """What a reader of the scores must know: the run's status, points left out, pooling."""
    notes = []
    if result.status != "success":
        notes.append(f"the run's status is {result.status}" + (f": {result.message}" if result.message else ""))
    for v in report.variables:
        if v.missing:
            notes.append(f"{v.name}: {len(v.missing)} point(s) not compared, the run has no value there "
                         f"(t = {_steps(v.missing)})")
        if v.zero_actuals:
            verb = "has no MAPE: every actual is 0" if v.scores.mape is None else \
                f"MAPE leaves out {len(v.zero_actuals)} point(s) whose actual is 0"
            notes.append(f"{v.name}: {verb} (t = {_steps(v.zero_actuals)})")
    if report.overall_unit is None and report.variables:
        units = ", ".join(sorted({v.unit or "no unit" for v in report.variables}))
        notes.append(f"overall RMSE, MAE, bias and CRPS are left out: the variables are in different units ({units})")
    return notes


def _steps(ts: list[int]) -> str:
    shown = ", ".join(map(str, ts[:10]))
    return shown + (f" and {len(ts) - 10} more" if len(ts) > 10 else "")


def _num(x: float | None) -> float | None:
    return None if x is None else json_float(x)


# ---------------------------------------------------------------------------------------------
# Text report
# ---------------------------------------------------------------------------------------------


def render_text(report: Report) -> str:
    """A table of the scores, one line per variable and one overall, then the notes and the gate's verdict."""
    mc = report.monte_carlo
    runs = f", {report.runs:,} runs" if mc and report.runs else ""
    lines = [f"pel backtest: {report.model_name} against {report.actuals_file}",
             f"  {report.mode}{runs}, seed {report.seed}, t = 0..{report.steps}; error = predicted - actual"
             + ("; predicted = mean of the paths" if mc else "")]
    head = ["variable", "n", "MAPE", "RMSE", "MAE", "bias", "unit"]
    if mc:
        head[6:6] = ["p5-p95", "p25-p75", "CRPS"]
    rows = [head]
    for v in report.variables:
        rows.append(_row(v.name, v.scores, v.unit, mc))
    if len(report.variables) > 1:
        rows.append(_row("overall", report.overall, report.overall_unit or "", mc))
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:-1], strict=True)] + [r[-1]]
        lines.append("  ".join(cells).rstrip())
    if mc:
        lines.append("  CRPS is estimated from the run's seven percentiles (docs/monitoring.md)")
    lines.extend(f"note: {n}" for n in report.notes)
    if report.max_mape is not None:
        if report.ok:
            lines.append(f"max MAPE {_pct(report.max_mape)}: ok")
        else:
            over = ", ".join(f"{v.name} {_pct(v.scores.mape)}" for v in report.variables if v.name in report.exceeded)
            lines.append(f"max MAPE {_pct(report.max_mape)}: EXCEEDED by {over}")
    return "\n".join(lines) + "\n"


def _row(name: str, s: Scores, unit: str, mc: bool) -> list[str]:
    row = [name, str(s.n), _pct(s.mape), _fmt(s.rmse), _fmt(s.mae), _fmt(s.bias, signed=True)]
    if mc:
        row += [_pct(s.coverage_90, 0), _pct(s.coverage_50, 0), _fmt(s.crps)]
    return row + [unit]


def _pct(x: float | None, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def _fmt(x: float | None, signed: bool = False) -> str:
    if x is None:
        return "n/a"
    sign = "+" if signed else ""
    if x == 0 or 0.01 <= abs(x) < 1e15:
        return f"{x:{sign},.2f}"
    return f"{x:{sign}.3g}"
