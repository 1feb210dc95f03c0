"""Calibration: fit named parameters of a model to actuals by least squares (scipy.optimize.least_squares), with
standard errors and 95% intervals from the Jacobian at the optimum, per-variable RMSE and the optimiser's verdict.

Values go in and come out in each parameter's declared unit (a `Rate per Year` is fitted and shown per year): the
model is run through `Model.run(params={name: value})`, which reads a bare number in the declared unit, and the
values it starts from are the run's assumption register, which shows them in that unit (`pel.overrides`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pel.backend.results import Result, json_float
from pel.diagnostics import PelError, RunError, Span, simple
from pel.ir import nodes as ir
from pel.monitor.actuals import Actuals, Observation

OBJECTIVES = ("scaled", "relative", "absolute")
OBJECTIVE_TEXT = {
    "scaled": "sum of squared residuals, each variable's divided by the root mean square of its actuals",
    "relative": "sum of squared relative residuals (predicted - actual) / |actual|",
    "absolute": "sum of squared residuals predicted - actual, in the variables' units",
}
DEFAULT_MODE = "deterministic"

# Kinds of parameter that hold one number; and the lower bound their type gives a fit (others: none).
_NON_NEGATIVE = frozenset({"Fraction", "Rate", "Count", "Capacity", "Duration"})
# A residual where the run has no value (a fatal constraint stopped it, a fault): large, so the optimiser backs off.
_PENALTY = 1e6
# The optimiser's tolerances (scipy's ftol, xtol, gtol): tight, the model runs are exact and cheap.
_TOL = 1e-10


class CalibrationError(PelError):
    """A fit was refused: a parameter that cannot be fitted, too few observations, a bad bound or objective."""

    phase = "calibrate"


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """One fitted parameter, in its declared unit."""

    name: str
    type: str  # the declared type, as the language spells it
    unit: str  # its unit label ("USD", "1/Year", "" for a plain number)
    declared: float  # the model's value (a distribution's central value), with --set on the others applied
    initial: float  # where the fit started (the declared value, or --set on this parameter)
    value: float  # the estimate
    std_error: float | None  # None where the data cannot give one (no degrees of freedom, not identified)
    ci95: tuple[float, float] | None  # value ± t(0.975, dof) · std_error
    lower: float | None  # the fit's bounds (None: unbounded)
    upper: float | None
    at_bound: str | None = None  # "lower" or "upper" when the estimate sits on a bound
    distribution: str | None = None  # the declared distribution as written, for an uncertain parameter

    def to_dict(self) -> dict:
        return {"name": self.name, "type": self.type, "unit": self.unit, "value": _num(self.value),
                "std_error": _num(self.std_error),
                "ci95": None if self.ci95 is None else [_num(self.ci95[0]), _num(self.ci95[1])],
                "declared": _num(self.declared), "initial": _num(self.initial),
                "bounds": [_num(self.lower), _num(self.upper)], "at_bound": self.at_bound,
                "distribution": self.distribution}


@dataclass(frozen=True)
class VariableFit:
    """How well the fit matches one observed variable."""

    name: str
    unit: str
    n: int
    rmse: float | None  # at the estimate, in the variable's unit
    rmse_initial: float | None  # at the starting values
    scale: float  # what its residuals are divided by in the objective

    def to_dict(self) -> dict:
        return {"unit": self.unit, "n": self.n, "rmse": _num(self.rmse), "rmse_initial": _num(self.rmse_initial),
                "scale": _num(self.scale)}


@dataclass
class FitSettings:
    """What a fit ran on: the model, the data file, the run options and the objective (a calibration's and a drift
    report's)."""

    model_name: str
    model_hash: str
    data_file: str
    mode: str
    seed: int
    steps: int
    runs: int | None  # Monte Carlo paths (None in deterministic mode)
    objective: str
    data_sha256: str | None = None  # set by the command line, which reads the file's bytes

    def to_dict(self) -> dict:
        """The `model`, `data`, `mode`, `seed`, `steps` (and `runs`) fields of the JSON reports."""
        return {"model": {"name": self.model_name, "hash": self.model_hash},
                "data": {"file": self.data_file, "sha256": self.data_sha256},
                "mode": self.mode, "seed": self.seed, "steps": self.steps,
                **({"runs": self.runs} if self.mode == "monte_carlo" else {})}

    def describe(self) -> str:
        """`deterministic, seed 42, t = 0..24` (with the paths in Monte Carlo), for the text reports."""
        runs = f", {self.runs:,} runs" if self.mode == "monte_carlo" and self.runs else ""
        return f"{self.mode}{runs}, seed {self.seed}, t = 0..{self.steps}"


@dataclass
class Calibration:
    """A fit: the settings, one Estimate per parameter, the fit per variable, the optimiser's verdict and notes."""

    settings: FitSettings
    window: tuple[int, int] | None  # the steps whose observations were fitted (None: all)
    estimates: list[Estimate]
    variables: list[VariableFit]
    n: int  # observations fitted
    dof: int  # n - number of parameters
    residual_std: float | None  # s = √(Σ r² / dof), in the objective's units
    rmse: float | None  # over every point, when all the variables share a unit
    rmse_unit: str | None
    correlation: list[list[float | None]] | None
    converged: bool
    identified: bool  # the Jacobian has full column rank: the data pin every parameter down
    optimizer_status: int
    optimizer_message: str
    model_runs: int  # runs of the model the fit took (Jacobian included)
    run_status: str  # the status of the run at the estimate
    notes: list[str] = field(default_factory=list)
    written: str | None = None  # the .pel file --write updated

    @property
    def ok(self) -> bool:
        """Converged and identified: the estimates and their errors can be used (and written)."""
        return self.converged and self.identified

    def values(self) -> dict[str, float]:
        """{name: estimate} in the declared units: what `Model.run(params=…)` takes."""
        return {e.name: e.value for e in self.estimates}

    def to_dict(self) -> dict:
        return {
            **self.settings.to_dict(),
            "window": None if self.window is None else list(self.window),
            "objective": {"name": self.settings.objective, "definition": OBJECTIVE_TEXT[self.settings.objective]},
            "optimizer": {"method": "scipy.optimize.least_squares (trf, 3-point Jacobian)",
                          "status": self.optimizer_status, "message": self.optimizer_message,
                          "model_runs": self.model_runs},
            "converged": self.converged, "identified": self.identified, "ok": self.ok,
            "n": self.n, "dof": self.dof, "residual_std": _num(self.residual_std),
            "rmse": _num(self.rmse), "rmse_unit": self.rmse_unit,
            "parameters": {e.name: e.to_dict() for e in self.estimates},
            "correlation": self.correlation,
            "variables": {v.name: v.to_dict() for v in self.variables},
            "run_status": self.run_status, "written": self.written, "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------
# The problem: what is fitted to what
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A parameter to fit, with its IR declaration, bounds and starting value (declared units)."""

    param: ir.Param
    declared: float
    initial: float
    lower: float
    upper: float


def fittable(program: ir.Program, names: Sequence[str], source: str | None = None) -> list[ir.Param]:
    """The parameters `names` denote, in the given order; E0909 for an unknown, repeated or non-numeric one."""
    params = {p.name: p for p in program.model.params}
    file = str(program.metadata.get("source_file") or "<model>")
    out: list[ir.Param] = []
    errors = []
    if not names:
        errors.append(simple("E0909", "nothing to fit: --fit names no parameter", hint="--fit NAME[,NAME…]"))
    for name in names:
        param = params.get(name)
        if param is None:
            import difflib

            close = difflib.get_close_matches(name, list(params), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"parameters: {', '.join(params) or 'none'}"
            errors.append(simple("E0909", f"{program.model.name} has no parameter {name!r}", hint=hint))
        elif param in out:
            errors.append(simple("E0909", f"--fit names {name!r} twice"))
        elif not param.holds_number:
            errors.append(simple("E0909", f"{name} is {param.type.display}: only a parameter holding one number "
                                          "can be fitted", _span(file, param.loc)))
        else:
            out.append(param)
    if errors:
        raise CalibrationError(errors, source)
    return out


def default_bounds(param: ir.Param) -> tuple[float, float]:
    """The bounds a parameter's type gives a fit: [0, 1] for a Beta-distributed one, ≥ 0 for a Fraction, Rate,
    Count, Capacity or Duration and for a LogNormal or Pareto one (their support), none otherwise."""
    d = param.distribution
    if d is not None and d.distribution_type == "Beta":
        return 0.0, 1.0
    if param.type.kind in _NON_NEGATIVE or (d is not None and d.distribution_type in ("LogNormal", "Pareto")):
        return 0.0, math.inf
    return -math.inf, math.inf


def parse_bound(text: str) -> tuple[str, float | None, float | None]:
    """`NAME=LO:HI` (either side may be empty: `growth=-1:`) in the parameter's declared unit."""
    name, sep, rest = text.partition("=")
    lo_text, colon, hi_text = rest.partition(":")
    name = name.strip()
    if not sep or not colon or not name:
        raise CalibrationError(simple("E0911", f"--bound expects NAME=LO:HI, got {text!r}",
                                      hint="bare numbers in the parameter's declared unit, either side may be "
                                           "empty: --bound growth=-0.5:  --bound churn=0:0.2"))

    def number(s: str) -> float | None:
        s = s.strip().replace("_", "")
        if not s:
            return None
        try:
            v = float(s)
        except ValueError:
            raise CalibrationError(simple("E0911", f"--bound {text}: {s!r} is not a number")) from None
        if math.isnan(v):
            raise CalibrationError(simple("E0911", f"--bound {text}: {s!r} is not a number"))
        return v

    return name, number(lo_text), number(hi_text)


class Problem:
    """A model, the observations to match and the parameters to fit: the residual function and its runs.

    Built once and fitted on any window of steps (drift fits many windows of one problem)."""

    def __init__(self, model: Any, actuals: Actuals, fit: Sequence[str], *, mode: str | None = None,
                 seed: int | None = None, runs: int | None = None, steps: int | None = None,
                 params: Mapping[str, Any] | None = None, variables: Sequence[str] | None = None,
                 objective: str = "scaled", bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
                 threads: int | None = None, progress: Callable[[int, int], None] | None = None) -> None:
        from pel import overrides

        self.model = model
        self.progress = progress  # called before each run (and by Monte Carlo runs between blocks): may raise
        self.program: ir.Program = model.program
        self.actuals = actuals
        self.settings = model.settings(mode or DEFAULT_MODE, seed=seed, runs=runs, steps=steps)
        self.threads = threads
        if objective not in OBJECTIVES:
            raise CalibrationError(simple("E0911", f"objective must be one of {', '.join(OBJECTIVES)}, got "
                                                   f"{objective!r}"))
        self.objective = objective
        fitted = fittable(self.program, list(fit))
        names = [p.name for p in fitted]
        given = dict(params or {})
        # --set on a fitted parameter is where its fit starts; the others stay fixed at what --set says.
        self.fixed = {k: v for k, v in given.items() if k not in names}
        starts = {k: v for k, v in given.items() if k in names}
        base = self._run_declared()
        register = {a["name"]: a.get("value") for a in base.assumptions}
        model_ir = self.program.model
        start_steps = overrides.resolve(self.program, starts)
        bounds = dict(bounds or {})
        unknown = [k for k in bounds if k not in names]
        if unknown:
            raise CalibrationError(simple("E0911", f"--bound {unknown[0]}: {unknown[0]!r} is not fitted",
                                          hint=f"fitted: {', '.join(names)}"))
        self.targets: list[Target] = []
        self.notes: list[str] = []
        for p in fitted:
            declared = register.get(p.name)
            if not isinstance(declared, (int, float)) or isinstance(declared, bool) or not math.isfinite(declared):
                raise CalibrationError(simple("E0909", f"{p.name} has no numeric value to start from "
                                                       f"({declared!r})", _span(self.file, p.loc)))
            initial = (overrides.to_declared(p.type, start_steps[p.name], model_ir) if p.name in start_steps
                       else float(declared))
            lo, hi = default_bounds(p)
            if p.name in bounds:
                blo, bhi = bounds[p.name]
                lo = -math.inf if blo is None else blo
                hi = math.inf if bhi is None else bhi
                if not lo < hi:
                    raise CalibrationError(simple("E0911", f"--bound {p.name}: the lower bound {lo:g} is not below "
                                                           f"the upper bound {hi:g}"))
            if not lo <= initial <= hi:
                clipped = min(max(initial, lo), hi)
                self.notes.append(f"{p.name}: the starting value {initial:g} lies outside the bounds "
                                  f"[{lo:g}, {hi:g}]; the fit starts from {clipped:g}")
                initial = clipped
            self.targets.append(Target(p, float(declared), initial, lo, hi))
        self.names = names
        self.units = {v.name: v.type.unit for v in model_ir.vars}
        self.chosen = self._variables(variables)

    @property
    def file(self) -> str:
        return str(self.program.metadata.get("source_file") or "<model>")

    def _run_declared(self) -> Result:
        """A deterministic run at the declared values (with --set on the other parameters): the register of values."""
        return self.model.run("deterministic", seed=self.settings.seed, steps=self.settings.steps, params=self.fixed)

    def _variables(self, variables: Sequence[str] | None) -> list[str]:
        observed = self.actuals.variables()
        if variables is None:
            return observed
        missing = [v for v in variables if v not in observed]
        if missing:
            raise CalibrationError(simple("E0911", f"{self.actuals.file} has no observations of {missing[0]!r}",
                                          hint=f"observed: {', '.join(observed)}"))
        return list(dict.fromkeys(variables))

    def observations(self, window: tuple[int, int] | None = None) -> list[Observation]:
        """The observations fitted on `window` (inclusive steps; None: all), by variable then t."""
        out = []
        for name in self.chosen:
            out.extend(o for o in self.actuals.series(name)
                       if window is None or window[0] <= o.t <= window[1])
        return out

    def fit_settings(self) -> FitSettings:
        s = self.settings
        return FitSettings(self.program.model.name, str(self.program.metadata.get("model_hash", "")),
                           self.actuals.file, s.mode, s.seed, s.steps, s.runs if s.mode == "monte_carlo" else None,
                           self.objective)

    def run(self, values: Mapping[str, float]) -> Result:
        s = self.settings
        if self.progress is not None:
            self.progress(0, 0)
        return self.model.run(s.mode, seed=s.seed, runs=s.runs, steps=s.steps,
                              params={**self.fixed, **values}, threads=self.threads, progress=self.progress)


def predictions(result: Result, obs: Sequence[Observation]) -> np.ndarray:
    """The run's value at each observation (in Monte Carlo the mean of the paths); NaN where it has none."""
    out = np.full(len(obs), np.nan)
    for k, o in enumerate(obs):
        if o.variable in result:
            values = result[o.variable].value
            if o.t < len(values):
                out[k] = float(values[o.t])
    return out


# ---------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------


def calibrate(model: Any, actuals: Actuals, fit: Sequence[str], *, mode: str | None = None,
              seed: int | None = None, runs: int | None = None, steps: int | None = None,
              params: Mapping[str, Any] | None = None, variables: Sequence[str] | None = None,
              objective: str = "scaled", bounds: Mapping[str, tuple[float | None, float | None]] | None = None,
              window: tuple[int, int] | None = None, max_evals: int | None = None,
              threads: int | None = None) -> Calibration:
    """Fit the parameters `fit` of `model` (a `pel.Model`) to `actuals` by least squares.

    The model runs deterministically (uncertain parameters at their central values) unless `mode` is
    "monte_carlo" (then the mean of `runs` paths of seed `seed` is fitted). `params` fixes other parameters as
    `Model.run(params=…)` does; given for a fitted parameter, it is where the fit starts (else its declared value).
    `variables` restricts the fit to some observed variables (default: every variable in `actuals`); `window`
    (first, last step) to the observations in those steps. `bounds` {name: (lower, upper)} replace the bounds the
    type gives (`default_bounds`); None is unbounded. Raises CalibrationError (E0909, E0911) for a fit that
    cannot be set up; a fit that does not converge is returned with `converged` False."""
    problem = Problem(model, actuals, fit, mode=mode, seed=seed, runs=runs, steps=steps, params=params,
                      variables=variables, objective=objective, bounds=bounds, threads=threads)
    return fit_problem(problem, window=window, max_evals=max_evals)


def fit_problem(problem: Problem, *, window: tuple[int, int] | None = None, max_evals: int | None = None,
                start: Mapping[str, float] | None = None) -> Calibration:
    """Fit `problem` on the observations of `window`; `start` overrides the starting values (declared units)."""
    from scipy.optimize import least_squares

    obs = problem.observations(window)
    p = len(problem.targets)
    where = "" if window is None else f" in steps {window[0]}..{window[1]}"
    if len(obs) < p:
        raise CalibrationError(simple("E0911", f"{len(obs)} observation(s){where} cannot fit {p} parameter(s)",
                                      hint="fit fewer parameters, or give more data"))
    actual = np.array([o.value for o in obs], dtype=float)
    scale = _scales(problem, obs, actual)
    names = problem.names
    x0 = np.array([min(max((start or {}).get(t.param.name, t.initial), t.lower), t.upper)
                   for t in problem.targets], dtype=float)
    lower = np.array([t.lower for t in problem.targets])
    upper = np.array([t.upper for t in problem.targets])

    cache: dict[tuple[float, ...], tuple[np.ndarray, Result | None]] = {}
    count = [0]

    def evaluate(x: np.ndarray) -> tuple[np.ndarray, Result | None]:
        key = tuple(float(v) for v in x)
        if key not in cache:
            count[0] += 1
            try:
                result: Result | None = problem.run(dict(zip(names, key, strict=True)))
                pred = predictions(result, obs)
            except RunError:  # a value the run refuses: as far off as a missing value
                result, pred = None, np.full(len(obs), np.nan)
            if len(cache) > 256:
                cache.clear()
            cache[key] = (pred, result)
        return cache[key]

    def residuals(x: np.ndarray) -> np.ndarray:
        pred = evaluate(x)[0]
        r = (pred - actual) / scale
        return np.where(np.isfinite(r), r, _PENALTY)

    pred0, result0 = evaluate(x0)
    missing0 = [o for o, v in zip(obs, pred0, strict=True) if not math.isfinite(v)]
    if missing0:
        o = missing0[0]
        status = f" (the run's status: {result0.status})" if result0 is not None and not result0.ok else ""
        raise CalibrationError(simple("E0911", f"the run at the starting values has no value of {o.variable} at "
                                               f"t={o.t}{status}", o.span,
                                      hint="`pel run` with the same options shows why; start elsewhere with --set"))

    res = least_squares(residuals, x0, jac="3-point", bounds=(lower, upper), method="trf", x_scale="jac",
                        ftol=_TOL, xtol=_TOL, gtol=_TOL, max_nfev=max_evals)
    x = np.asarray(res.x, dtype=float)
    pred, result = evaluate(x)
    notes = list(problem.notes)
    missing = [o for o, v in zip(obs, pred, strict=True) if not math.isfinite(v)]
    converged = bool(res.status > 0) and not missing
    message = str(res.message)
    if missing:
        o = missing[0]
        message = f"the run at the estimate has no value of {o.variable} at t={o.t}"
    elif res.status == 0:
        message = f"{message.rstrip('.')} (raise --max-evals)"
    r = np.asarray(res.fun, dtype=float)
    J = np.asarray(res.jac, dtype=float)
    n = len(obs)
    dof = n - p
    s = math.sqrt(float(r @ r) / dof) if dof > 0 else None
    se, corr, identified, why = _errors(J, s, names)
    if not converged:  # errors from the Jacobian hold at an optimum only
        se, corr = None, None
    if why:
        notes.append(why)
    if dof == 0:
        notes.append(f"{n} observation(s) for {p} parameter(s): an exact fit, no standard errors")
    tcrit = _t_quantile(dof) if dof > 0 else None
    estimates = []
    for k, t in enumerate(problem.targets):
        v = float(x[k])
        err = se[k] if se is not None else None
        ci = (v - tcrit * err, v + tcrit * err) if err is not None and tcrit is not None else None
        bound = None
        if math.isfinite(t.lower) and v <= t.lower + 1e-10 * max(1.0, abs(t.lower)):
            bound = "lower"
        elif math.isfinite(t.upper) and v >= t.upper - 1e-10 * max(1.0, abs(t.upper)):
            bound = "upper"
        if bound is not None:
            limit = t.lower if bound == "lower" else t.upper
            notes.append(f"{t.param.name} stopped at its {bound} bound {limit:g}: the optimum may lie beyond it "
                         f"(--bound {t.param.name}=LO:HI), and its interval assumes an optimum inside the bounds")
        dist = t.param.value_text if t.param.distribution is not None else None
        estimates.append(Estimate(t.param.name, t.param.type.display, t.param.type.unit, t.declared, float(x0[k]),
                                  v, err, ci, _finite(t.lower), _finite(t.upper), bound, dist))
    variables = _variable_fits(problem, obs, actual, pred, pred0, scale)
    units = {v.unit for v in variables}
    one_unit = next(iter(units)) if len(units) == 1 else None
    rmse = _rmse(pred - actual) if one_unit is not None else None
    run_status = result.status if result is not None else "failed"
    if result is not None and not result.ok:
        notes.append(f"the run at the estimate's status is {result.status}"
                     + (f": {result.message}" if result.message else ""))
    return Calibration(
        settings=problem.fit_settings(), window=window, estimates=estimates, variables=variables, n=n, dof=dof, residual_std=s, rmse=rmse,
        rmse_unit=one_unit, correlation=corr, converged=converged, identified=identified,
        optimizer_status=int(res.status), optimizer_message=message, model_runs=count[0],
        run_status=run_status, notes=notes)


def _scales(problem: Problem, obs: list[Observation], actual: np.ndarray) -> np.ndarray:
    """What each residual is divided by in the objective."""
    if problem.objective == "absolute":
        return np.ones(len(obs))
    if problem.objective == "relative":
        zero = [o for o in obs if o.value == 0]
        if zero:
            raise CalibrationError(simple("E0911", f"a relative objective divides by the actual, and "
                                                   f"{zero[0].variable} is 0 at t={zero[0].t}", zero[0].span,
                                          hint="use --objective scaled (the default), or leave the point out"))
        return np.abs(actual)
    out = np.ones(len(obs))
    for name in {o.variable for o in obs}:
        mask = np.array([o.variable == name for o in obs])
        rms = math.sqrt(float(np.mean(actual[mask] ** 2)))
        out[mask] = rms if rms > 0 else 1.0
    return out


def _errors(J: np.ndarray, s: float | None, names: list[str]) -> tuple[list[float] | None,
                                                                     list[list[float | None]] | None, bool, str | None]:
    """Standard errors and correlations from cov = s² (JᵀJ)⁻¹, whether J has full column rank, and a note."""
    p = len(names)
    if J.size == 0 or not np.all(np.isfinite(J)):
        return None, None, False, "the Jacobian at the estimate is not finite: no standard errors"
    _, S, Vt = np.linalg.svd(J, full_matrices=False)
    tol = (S.max() if S.size else 0.0) * max(J.shape) * np.finfo(float).eps
    rank = int(np.sum(S > tol)) if S.size and S.max() > 0 else 0
    if rank < p:
        norms = np.linalg.norm(J, axis=0)
        idle = [n for n, v in zip(names, norms, strict=True) if not v > tol]
        what = (f"{', '.join(idle)} {'does' if len(idle) == 1 else 'do'} not change the fitted values" if idle
                else "a combination of the parameters does not change the fitted values")
        return None, None, False, (f"not identified (the Jacobian has rank {rank} < {p}): {what}; fit fewer "
                                   "parameters, or fit to variables that depend on them")
    if s is None:
        return None, None, True, None
    cov = (Vt.T / S**2) @ Vt * s * s
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    corr: list[list[float | None]] = []
    for i in range(p):
        row: list[float | None] = []
        for j in range(p):
            d = se[i] * se[j]
            row.append(json_float(float(np.clip(cov[i, j] / d, -1.0, 1.0))) if d > 0 else None)
        corr.append(row)
    return [float(v) for v in se], corr, True, None


def _t_quantile(dof: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, dof))


def _variable_fits(problem: Problem, obs: list[Observation], actual: np.ndarray, pred: np.ndarray,
                   pred0: np.ndarray, scale: np.ndarray) -> list[VariableFit]:
    out = []
    for name in problem.chosen:
        mask = np.array([o.variable == name for o in obs], dtype=bool)
        if not mask.any():
            continue
        sc = float(scale[mask][0]) if problem.objective == "scaled" else 1.0
        out.append(VariableFit(name, problem.units.get(name, ""), int(mask.sum()), _rmse(pred[mask] - actual[mask]),
                               _rmse(pred0[mask] - actual[mask]), sc))
    return out


def _rmse(err: np.ndarray) -> float | None:
    if err.size == 0 or not np.all(np.isfinite(err)):
        return None
    return float(np.sqrt(np.mean(err * err)))


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _num(x: float | None) -> float | None:
    return None if x is None else json_float(x)


def _span(file: str, loc: Any) -> Span | None:
    return Span(file, *loc) if loc else None


# ---------------------------------------------------------------------------------------------
# Text report
# ---------------------------------------------------------------------------------------------


def render_text(cal: Calibration) -> str:
    """The estimates with their errors and intervals, the fit per variable, the verdict and the notes."""
    s = cal.settings
    window = f"; window t = {cal.window[0]}..{cal.window[1]}" if cal.window else ""
    lines = [f"pel calibrate: {s.model_name} against {s.data_file}",
             f"  {s.describe()}{window}; {cal.n} observations, "
             f"{len(cal.estimates)} parameter(s); objective: {s.objective} least squares"]
    rows = [["parameter", "estimate", "std error", "95% interval", "initial", "unit"]]
    for e in cal.estimates:
        ci = "n/a" if e.ci95 is None else f"[{fmt(e.ci95[0])}, {fmt(e.ci95[1])}]"
        rows.append([e.name, fmt(e.value), fmt(e.std_error), ci, fmt(e.initial), e.unit])
    lines.extend(_table(rows))
    rows = [["variable", "n", "RMSE", "RMSE at start", "unit"]]
    for v in cal.variables:
        rows.append([v.name, str(v.n), fmt(v.rmse), fmt(v.rmse_initial), v.unit])
    lines.extend(_table(rows))
    if cal.converged:
        lines.append(f"converged after {cal.model_runs} runs: {cal.optimizer_message}")
    else:
        lines.append(f"NOT CONVERGED after {cal.model_runs} runs: {cal.optimizer_message}")
    if cal.converged and not cal.identified:
        lines.append("NOT IDENTIFIED: the data do not pin every parameter down (see the note)")
    lines.extend(f"note: {n}" for n in cal.notes)
    if cal.written:
        lines.append(f"wrote {cal.written}: {', '.join(e.name for e in cal.estimates)} (method \"fitted\")")
    return "\n".join(lines) + "\n"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:-1], strict=True)] + [r[-1]]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def fmt(x: float | None) -> str:
    """A number for the text report: six significant digits."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.6g}" if abs(x) < 1e15 else f"{x:.6g}"
