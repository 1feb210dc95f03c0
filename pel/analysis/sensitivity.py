"""Which assumptions drive an output: tornado swings, Spearman rank correlation (with partial rank correlation) over a
Monte Carlo run, and Sobol first-order and total indices from a Saltelli design over a scrambled Sobol sequence.

Spearman and Sobol evaluate the model through `pel.backend.design`: blocks of paths in the compiled kernels, never
a Python call per evaluation. The Sobol estimators are Saltelli et al. (2010) for the first-order index
(mean(f_B · (f_ABi − f_A)) / V) and Jansen's for the total index (mean((f_A − f_ABi)²) / 2V), V the variance of
f_A and f_B together, on outputs centred and scaled by the mean and standard deviation of every evaluation; the
95% intervals are percentile bootstrap intervals over the base rows. The design treats the uncertain parameters
as independent: declared correlations are not applied (a note says so)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pel.backend.quantiles import quantile, runtime_args
from pel.backend.results import json_float
from pel.diagnostics import PelError, simple
from pel.ir import nodes as ir
from pel.overrides import to_declared, to_steps

METHODS = ("tornado", "spearman", "sobol")
BOOTSTRAP = 1000  # bootstrap resamples of the Sobol indices
DEFAULT_SWING = 0.10


class SensitivityError(PelError):
    """A sensitivity analysis that cannot be set up: an unknown target or step, no parameter to vary."""

    phase = "analysis"


@dataclass
class Row:
    """One parameter's figures for one target, with its rank (1: the most influential)."""

    param: str
    unit: str
    figures: dict[str, Any]
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"param": self.param, "unit": self.unit, **self.figures, "rank": self.rank}


@dataclass
class TargetReport:
    """The rows of one target (an output at a step)."""

    name: str
    t: int
    unit: str
    rows: list[Row]
    summary: dict[str, Any] = field(default_factory=dict)  # tornado: base; spearman: n; sobol: variance, n

    @property
    def label(self) -> str:
        return f"{self.name}@{self.t}"

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.name, "t": self.t, "unit": self.unit, **self.summary,
                "rows": [r.to_dict() for r in self.rows]}


@dataclass
class SensitivityReport:
    """A sensitivity analysis of one model: the method, its settings, a TargetReport per target, notes."""

    method: str
    model_name: str
    model_hash: str
    seed: int
    steps: int
    runs: int | None  # Monte Carlo paths (spearman) or base samples (sobol); None for tornado
    evaluations: int  # model evaluations (paths) the analysis ran
    targets: list[TargetReport]
    notes: list[str] = field(default_factory=list)
    assumptions: list[dict[str, Any]] = field(default_factory=list)  # the register, sensitivity_rank filled

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "model": {"name": self.model_name, "hash": self.model_hash},
                "seed": self.seed, "steps": self.steps, "runs": self.runs, "evaluations": self.evaluations,
                "targets": {t.label: t.to_dict() for t in self.targets}, "assumptions": self.assumptions,
                "notes": self.notes}


# ---------------------------------------------------------------------------------------------
# Targets and parameters
# ---------------------------------------------------------------------------------------------


def parse_targets(texts: Sequence[str] | None, model: ir.Model, steps: int) -> list[tuple[str, int]]:
    """`VAR[@T]` items (comma-separated or repeated) as (output, step); none: every numeric output at the horizon."""
    types = {v.name: v.type for v in model.vars}
    numeric = [n for n in model.observable_outputs() if n not in types or types[n].kind != "Boolean"]
    items = [s.strip() for text in texts or [] for s in text.split(",") if s.strip()]
    if not items:
        return [(n, steps) for n in numeric]
    out = []
    for item in items:
        name, _, at = item.partition("@")
        if name not in numeric:
            raise SensitivityError(simple("E0600", f"--target {item}: {name!r} is not a numeric output of "
                                                   f"{model.name}", hint=f"outputs: {', '.join(numeric) or 'none'}"))
        t = steps
        if at:
            if not at.isdigit() or not 0 <= int(at) <= steps:
                raise SensitivityError(simple("E0011", f"--target {item}: the step must be a whole number in "
                                                       f"0..{steps}"))
            t = int(at)
        out.append((name, t))
    return list(dict.fromkeys(out))


def _output_units(model: ir.Model) -> dict[str, str]:
    units = {v.name: v.type.unit for v in model.vars}
    for o in model.outputs:
        units.setdefault(o.name, getattr(getattr(o, "type", None), "unit", "") or "")
    return units


def _rank(rows: list[Row], key: str) -> list[Row]:
    """Sort by |figures[key]| descending (NaN last, then by name) and number the ranks."""
    def k(r: Row) -> tuple[float, str]:
        v = r.figures.get(key)
        return (-abs(v) if isinstance(v, (int, float)) and math.isfinite(v) else math.inf, r.param)

    rows = sorted(rows, key=k)
    for i, r in enumerate(rows, 1):
        r.rank = i
    return rows


def _register(program: ir.Program, first: TargetReport | None) -> list[dict[str, Any]]:
    """The assumption register with `sensitivity_rank` from the first target's ranks."""
    from pel.release.register import entry

    ranks = {r.param: r.rank for r in first.rows} if first is not None else {}
    out = []
    for p in program.model.params:
        e = entry(p, program.model)
        e["sensitivity_rank"] = ranks.get(p.name)
        out.append(e)
    return out


def _num(x: Any) -> float | None:
    return None if x is None else json_float(x)


# ---------------------------------------------------------------------------------------------
# Tornado
# ---------------------------------------------------------------------------------------------


def tornado(program: ir.Program, targets: Sequence[tuple[str, int]], *, steps: int, seed: int = 42,
            swing: float = DEFAULT_SWING, params: dict[str, float] | None = None) -> SensitivityReport:
    """Each parameter swung with the others at their central values (deterministic runs): an uncertain one to
    its P10 and P90 (a Uniform to its low and high), a fixed number by ±`swing` of its value; rows sorted by
    |Δ| = |f(high) − f(low)|. `params` (step units) fix other parameters."""
    from pel.backend import engine

    model = program.model
    given = dict(params or {})
    base = engine.run(program, steps=steps, seed=seed, params=given)
    units = _output_units(model)
    notes: list[str] = []
    swings: list[tuple[ir.Param, float, float, str]] = []
    central = {a["name"]: a["value"] for a in base.assumptions}
    for p in model.params:
        if p.name in given or not p.holds_number:
            continue
        if p.distribution is not None:
            d = p.distribution
            if d.distribution_type == "Uniform":  # its low and high (LANGUAGE.md §2.7), exactly
                args = runtime_args(d)
                lo, hi = (None, None) if args is None else (float(args[1]), float(args[2]))
                how = "low-high"
            else:
                lo, hi, how = quantile(d, 0.10), quantile(d, 0.90), "P10-P90"
            if lo is None or hi is None:
                notes.append(f"{p.name}: the quantiles of {p.value_text} are not known (its arguments are not "
                             "constants); not swung")
                continue
            swings.append((p, lo, hi, how))
        else:
            value = central.get(p.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                continue
            v = to_steps(p.type, float(value), model)
            if v == 0:
                notes.append(f"{p.name} is 0: a relative swing leaves it unchanged; not swung")
                continue
            swings.append((p, v * (1 - swing), v * (1 + swing), f"±{swing:.0%}"))
    if not swings:
        raise SensitivityError(simple("E0011", f"{model.name} has no parameter to swing"))
    reports = [TargetReport(name, t, units.get(name, ""), [], {"base": _num(_at(base, name, t))})
               for name, t in targets]
    for p, lo, hi, how in swings:
        low = engine.run(program, steps=steps, seed=seed, params={**given, p.name: lo})
        high = engine.run(program, steps=steps, seed=seed, params={**given, p.name: hi})
        for rep in reports:
            f_lo, f_hi = _at(low, rep.name, rep.t), _at(high, rep.name, rep.t)
            rep.rows.append(Row(p.name, p.type.unit, {
                "swing": how, "low": _num(to_declared(p.type, lo, model)), "high": _num(to_declared(p.type, hi, model)),
                "output_low": _num(f_lo), "output_high": _num(f_hi), "delta": _num(f_hi - f_lo)}))
    for rep in reports:
        rep.rows = _rank(rep.rows, "delta")
    return SensitivityReport("tornado", model.name, str(program.metadata.get("model_hash", "")), seed, steps, None,
                             1 + 2 * len(swings), reports, notes, _register(program, reports[0] if reports else None))


def _at(result: Any, name: str, t: int) -> float:
    values = result[name].value
    return float(values[t]) if t < len(values) else math.nan


# ---------------------------------------------------------------------------------------------
# Spearman
# ---------------------------------------------------------------------------------------------


def spearman(program: ir.Program, targets: Sequence[tuple[str, int]], *, steps: int, runs: int, seed: int = 42,
             threads: int = 1, params: dict[str, float] | None = None,
             progress: Callable[[int, int], None] | None = None, client: Any = None) -> SensitivityReport:
    """Rank correlation of each uncertain parameter's sampled values with each target over the paths of a Monte
    Carlo run (the same paths as `pel run --mode monte_carlo` with this seed), and the partial rank correlation
    (each ranked parameter and the ranked target with the other parameters' ranks regressed out)."""
    from scipy.stats import rankdata

    from pel.backend.design import Design

    design = Design(program, targets, steps=steps, params=params)
    uncertain = _uncertain(program, params)
    if not uncertain:
        raise SensitivityError(simple("E0011", f"{program.model.name} has no uncertain parameter to correlate"))
    ev = design.evaluate(design.random_scores(seed, runs), seed, threads=threads, progress=progress, client=client)
    cols = [design.param_names.index(p.name) for p in uncertain]
    X = ev.params[:, cols]
    units = _output_units(program.model)
    notes: list[str] = []
    reports = []
    for k, (name, t) in enumerate(targets):
        y = ev.targets[:, k]
        keep = np.isfinite(y) & np.isfinite(X).all(axis=1)
        if (~keep).any():
            notes.append(f"{name}@{t}: {int((~keep).sum())} of {runs} paths have no value there (stopped or "
                         "faulted) and are left out")
        n = int(keep.sum())
        ry = rankdata(y[keep])
        RX = np.column_stack([rankdata(X[keep, j]) for j in range(X.shape[1])]) if n else np.empty((0, len(cols)))
        rows = []
        for j, p in enumerate(uncertain):
            rho = _corr(RX[:, j], ry)
            prcc = _partial(RX, ry, j)
            rows.append(Row(p.name, p.type.unit, {"rho": _num(rho), "prcc": _num(prcc)}))
        reports.append(TargetReport(name, t, units.get(name, ""), _rank(rows, "rho"), {"n": n}))
    if program.model.correlations:
        notes.append("the paths are sampled with the declared correlations: a parameter correlated with an "
                     "influential one shows a rank correlation too (its partial rank correlation does not)")
    return SensitivityReport("spearman", program.model.name, str(program.metadata.get("model_hash", "")), seed,
                             steps, runs, runs, reports, notes, _register(program, reports[0] if reports else None))


def _uncertain(program: ir.Program, params: dict[str, float] | None) -> list[ir.Param]:
    fixed = set(params or {})
    return [p for p in program.model.params if p.distribution is not None and p.name not in fixed]


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / den if den > 0 else math.nan


def _partial(RX: np.ndarray, ry: np.ndarray, j: int) -> float:
    """Correlation of the residuals of rank(x_j) and rank(y) on the other parameters' ranks (with an intercept)."""
    n = RX.shape[0]
    if n < RX.shape[1] + 3:
        return math.nan
    others = np.column_stack([np.ones(n), np.delete(RX, j, axis=1)])
    coef_x, *_ = np.linalg.lstsq(others, RX[:, j], rcond=None)
    coef_y, *_ = np.linalg.lstsq(others, ry, rcond=None)
    return _corr(RX[:, j] - others @ coef_x, ry - others @ coef_y)


# ---------------------------------------------------------------------------------------------
# Sobol
# ---------------------------------------------------------------------------------------------


def saltelli_design(k: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The base matrices A and B (n, k) of uniforms: the halves of a scrambled Sobol sequence of dimension 2k."""
    from scipy.stats import qmc

    base = qmc.Sobol(d=2 * k, scramble=True, seed=seed).random(n)
    return base[:, :k], base[:, k:]


def _standardized(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """f(A), f(B), f(AB_i) centred and scaled by the mean and standard deviation of all of them; None when they
    are all equal (every index is then 0)."""
    allv = np.concatenate([fA, fB, fAB.ravel()])
    mu, sd = allv.mean(), allv.std()
    if not sd > 0:
        return None
    return (fA - mu) / sd, (fB - mu) / sd, (fAB - mu) / sd


def sobol_indices(fA: np.ndarray, fB: np.ndarray, fAB: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First-order and total indices (k,) from f(A), f(B) (n,) and f(AB_i) (n, k), on standardized outputs."""
    z = _standardized(fA, fB, fAB)
    if z is None:
        return np.zeros(fAB.shape[1]), np.zeros(fAB.shape[1])
    return _first(*z), _total(*z)


def _first(a: np.ndarray, b: np.ndarray, ab: np.ndarray) -> np.ndarray:
    v = np.var(np.concatenate([a, b]), axis=0)
    return np.mean(b[:, None] * (ab - a[:, None]), axis=0) / v if v > 0 else np.zeros(ab.shape[1])


def _total(a: np.ndarray, b: np.ndarray, ab: np.ndarray) -> np.ndarray:
    v = np.var(np.concatenate([a, b]), axis=0)
    return 0.5 * np.mean((a[:, None] - ab) ** 2, axis=0) / v if v > 0 else np.zeros(ab.shape[1])


def _bootstrap(a: np.ndarray, b: np.ndarray, ab: np.ndarray, seed: int, resamples: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile 95% intervals (k, 2) of the first-order and total indices of standardized outputs, resampling
    the base rows."""
    rng = np.random.default_rng([seed, 0x50B0])
    n = len(a)
    s1 = np.empty((resamples, ab.shape[1]))
    st = np.empty((resamples, ab.shape[1]))
    for r in range(resamples):
        idx = rng.integers(0, n, n)
        s1[r] = _first(a[idx], b[idx], ab[idx])
        st[r] = _total(a[idx], b[idx], ab[idx])
    return np.percentile(s1, [2.5, 97.5], axis=0).T, np.percentile(st, [2.5, 97.5], axis=0).T


def sobol(program: ir.Program, targets: Sequence[tuple[str, int]], *, steps: int, runs: int, seed: int = 42,
          threads: int = 1, params: dict[str, float] | None = None, resamples: int = BOOTSTRAP,
          progress: Callable[[int, int], None] | None = None, client: Any = None) -> SensitivityReport:
    """First-order and total Sobol indices of the uncertain parameters for each target, from N = `runs` base rows
    (N·(k + 2) model evaluations, k uncertain parameters), with 95% bootstrap intervals; `client` (a
    dask.distributed Client) runs the evaluations on its cluster, with the same result."""
    from scipy.special import ndtri

    from pel.backend.design import Design

    design = Design(program, targets, steps=steps, params=params)
    fixed = set(params or {})
    cols = [j for j, name in enumerate(design.columns) if name not in fixed]
    if not cols:
        raise SensitivityError(simple("E0011", f"{program.model.name} has no uncertain parameter to vary"))
    names = [design.columns[j] for j in cols]
    k = len(cols)
    A, B = saltelli_design(k, runs, seed)
    eps = 2.0 ** -53
    zA = ndtri(np.clip(A, eps, 1 - eps))
    zB = ndtri(np.clip(B, eps, 1 - eps))
    total = runs * (k + 2)
    done = [0]

    def step(d: int, _n: int) -> None:
        if progress is not None:
            progress(done[0] + d, total)

    def run(zk: np.ndarray) -> np.ndarray:
        z = np.zeros((runs, len(design.columns)))  # a parameter not varied (fixed by --set) sits at z = 0
        z[:, cols] = zk
        out = design.evaluate(z, seed, threads=threads, progress=step, client=client).targets
        done[0] += runs
        return out

    fA = run(zA)
    fB = run(zB)
    fAB = np.empty((runs, k, len(targets)))
    for i in range(k):
        zi = zA.copy()
        zi[:, i] = zB[:, i]
        fAB[:, i, :] = run(zi)
    units = _output_units(program.model)
    params_by_name = {p.name: p for p in program.model.params}
    notes: list[str] = []
    if program.model.correlations:
        notes.append("the design samples the parameters independently: the declared correlations are not applied "
                     "(Sobol indices assume independent inputs)")
    reports = []
    for t_idx, (name, t) in enumerate(targets):
        a, b, ab = fA[:, t_idx], fB[:, t_idx], fAB[:, :, t_idx]
        keep = np.isfinite(a) & np.isfinite(b) & np.isfinite(ab).all(axis=1)
        if (~keep).any():
            notes.append(f"{name}@{t}: {int((~keep).sum())} of {runs} base rows have an evaluation without a value "
                         "there (stopped or faulted) and are left out")
        a, b, ab = a[keep], b[keep], ab[keep]
        z = _standardized(a, b, ab)
        if z is None:  # the target does not vary: every index is 0
            s1 = st = np.zeros(k)
            ci1 = cit = np.zeros((k, 2))
        else:
            s1, st = _first(*z), _total(*z)
            ci1, cit = _bootstrap(*z, seed, resamples)
        rows = []
        for i, pname in enumerate(names):
            p = params_by_name.get(pname)
            rows.append(Row(pname, p.type.unit if p is not None else "", {
                "S1": _num(s1[i]), "S1_ci95": [_num(ci1[i, 0]), _num(ci1[i, 1])],
                "ST": _num(st[i]), "ST_ci95": [_num(cit[i, 0]), _num(cit[i, 1])]}))
        variance = float(np.var(np.concatenate([a, b]))) if len(a) else math.nan
        reports.append(TargetReport(name, t, units.get(name, ""), _rank(rows, "ST"),
                                    {"n": int(keep.sum()), "variance": _num(variance)}))
    return SensitivityReport("sobol", program.model.name, str(program.metadata.get("model_hash", "")), seed, steps,
                             runs, total, reports, notes, _register(program, reports[0] if reports else None))


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------


def render_text(report: SensitivityReport, max_rows: int = 20) -> str:
    """One table per target, parameters by rank."""
    from pel.monitor.calibrate import fmt

    runs = f", {report.runs:,} {'base samples' if report.method == 'sobol' else 'paths'}" if report.runs else ""
    lines = [f"pel sensitivity: {report.model_name}, {report.method}{runs}, seed {report.seed}, "
             f"{report.evaluations:,} evaluations"]
    for t in report.targets:
        head = f"{t.label}" + (f" ({t.unit})" if t.unit else "")
        if report.method == "tornado":
            head += f", base {fmt(t.summary.get('base'))}"
            rows = [["rank", "parameter", "swing", "low", "high", "output low", "output high", "delta"]]
            for r in t.rows[:max_rows]:
                f = r.figures
                rows.append([str(r.rank), r.param, f["swing"], fmt(f["low"]), fmt(f["high"]), fmt(f["output_low"]),
                             fmt(f["output_high"]), fmt(f["delta"])])
        elif report.method == "spearman":
            head += f", {t.summary.get('n'):,} paths"
            rows = [["rank", "parameter", "rho", "partial rho"]]
            for r in t.rows[:max_rows]:
                rows.append([str(r.rank), r.param, _f3(r.figures["rho"]), _f3(r.figures["prcc"])])
        else:
            rows = [["rank", "parameter", "S1", "S1 95%", "ST", "ST 95%"]]
            for r in t.rows[:max_rows]:
                f = r.figures
                rows.append([str(r.rank), r.param, _f3(f["S1"]), _ci(f["S1_ci95"]), _f3(f["ST"]), _ci(f["ST_ci95"])])
        lines.append(head)
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        for r in rows:
            lines.append("  " + "  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1])]
                                          + [c.rjust(w) for c, w in zip(r[2:], widths[2:], strict=True)]).rstrip())
        if len(t.rows) > max_rows:
            lines.append(f"  … {len(t.rows) - max_rows} more in --format json")
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines) + "\n"


def _f3(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.3f}"


def _ci(ci: list[float | None]) -> str:
    return "n/a" if ci[0] is None or ci[1] is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"
