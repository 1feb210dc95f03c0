"""The distributions of the language, one record each: names and parameter spellings, how the parameters are typed
and what type a draw has, which values are valid, the deterministic-mode (central) value, how a unit conversion
rescales them, and the runtime's code. The checker, IR validation, lowering and code generation all read this
table; the runtime's compiled samplers (`pel.backend.runtime`: dist_ok, central, from_z, cdf) implement each code,
and a test holds the two central values equal."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# How a parameter is typed (the checker):
#   lead   its type is the draw's type (the first unit-carrying parameter)
#   same   the lead's unit (a spread, a bound)
#   plain  a plain number (a shape, degrees of freedom)
#   prob   a plain number, a probability
#   count  a whole number of trials (a Count or a plain number)
#   rate   a rate: the draw has the inverse type (Exponential: a rate per month gives durations in months)
LEAD, SAME, PLAIN, PROB, COUNT, RATE = "lead", "same", "plain", "prob", "count", "rate"


@dataclass(frozen=True)
class Param:
    """One parameter: its canonical (IR) name, the spellings accepted in source, how it is typed, and how a unit
    conversion of the draws by a factor f changes it ("linear": times f, "inverse": divided by f, "none")."""

    name: str
    spellings: tuple[str, ...]
    kind: str
    scales: str = "none"


@dataclass(frozen=True)
class Dist:
    """One distribution of the language."""

    name: str
    params: tuple[Param, ...]
    code: int | None  # the runtime's code (None: Mixture, sampled by its own routines)
    result: str  # the draw's type: "lead" (the lead/rate parameter's, inverted for RATE), "fraction"
    problems: Callable[[dict[str, float | None]], list[str]]  # violated conditions of constant arguments
    central: Callable[[dict[str, float]], float | None]  # the deterministic-mode value of constant arguments
    discrete: bool = False  # draws are whole numbers
    rescalable: bool = True  # the draws can be converted to another unit (a factor applies to the parameters)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def spelling(self, word: str) -> str | None:
        """The canonical name of a parameter spelled `word` (None: not a parameter of this distribution)."""
        return next((p.name for p in self.params if word in p.spellings), None)


# ---------------------------------------------------------------------------------------------
# Validity of constant arguments (E0431 in the checker, V007 in IR validation)
# ---------------------------------------------------------------------------------------------


def _positive(v: dict[str, float | None], *names: str) -> list[str]:
    return [f"{n} must be > 0, got {v[n]:g}" for n in names if v.get(n) is not None and not v[n] > 0]


def _between(v: dict[str, float | None], lo: str, mode: str | None, hi: str, strict_mode: bool = False) -> list[str]:
    a, b = v.get(lo), v.get(hi)
    if a is None or b is None:
        return []
    if not a < b:
        return [f"{lo} must be < {hi}, got {lo}={a:g}, {hi}={b:g}"]
    if mode is not None and v.get(mode) is not None and not a <= v[mode] <= b:
        return [f"{mode} must lie between {lo} and {hi}, got {v[mode]:g}"]
    return []


def _probability(v: dict[str, float | None], name: str) -> list[str]:
    p = v.get(name)
    return [] if p is None or 0.0 <= p <= 1.0 else [f"{name} must lie in [0, 1], got {p:g}"]


def pareto_median(xm: float, alpha: float) -> float:
    """xₘ·2^(1/α); inf when it overflows (α tiny)."""
    try:
        return xm * 2.0 ** (1.0 / alpha)
    except (OverflowError, ZeroDivisionError):
        return math.inf


def _pareto(v: dict[str, float | None]) -> list[str]:
    out = _positive(v, "xm", "alpha")
    xm, alpha = v.get("xm"), v.get("alpha")
    if not out and xm is not None and alpha is not None and math.isfinite(xm) and \
            not math.isfinite(pareto_median(xm, alpha)):
        out.append(f"alpha is so small that the median xm * 2^(1/alpha) overflows (xm={xm:g}, alpha={alpha:g})")
    return out


def _binomial(v: dict[str, float | None]) -> list[str]:
    n = v.get("n")
    out = [] if n is None or (n >= 0 and float(n).is_integer()) else [f"n must be a whole number >= 0, got {n:g}"]
    return out + _probability(v, "p")


# ---------------------------------------------------------------------------------------------
# Central values (LANGUAGE.md §2.3: symmetric -> centre, skewed -> median, Beta/Uniform/PERT -> mean, Triangular ->
# mode, counts -> mean)
# ---------------------------------------------------------------------------------------------


def _exp_or_none(x: float) -> float | None:
    try:
        return math.exp(x)
    except OverflowError:
        return None


def _gamma_median(v: dict[str, float]) -> float:
    from scipy.special import gammaincinv

    return float(gammaincinv(v["shape"], 0.5)) * v["scale"]


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


MU = ("μ", "mu", "mean")
SIGMA = ("σ", "sigma", "std", "sd", "stddev")
LOW, MODE, HIGH = ("low", "min", "a"), ("mode", "c", "peak", "most_likely"), ("high", "max", "b")

DISTRIBUTIONS: dict[str, Dist] = {d.name: d for d in (
    Dist("Normal", (Param("mu", MU, LEAD, "linear"), Param("sigma", SIGMA, SAME, "linear")), 0, "lead",
         lambda v: _positive(v, "sigma"), lambda v: v["mu"]),
    Dist("LogNormal", (Param("mu", MU, LEAD, "linear"), Param("sigma", SIGMA, SAME, "linear")), 1, "lead",
         lambda v: _positive(v, "sigma"), lambda v: _exp_or_none(v["mu"])),  # log space (see the checker)
    Dist("Beta", (Param("alpha", ("α", "alpha"), PLAIN), Param("beta", ("β", "beta"), PLAIN)), 2, "fraction",
         lambda v: _positive(v, "alpha", "beta"), lambda v: v["alpha"] / (v["alpha"] + v["beta"]), rescalable=False),
    Dist("Uniform", (Param("low", LOW, LEAD, "linear"), Param("high", HIGH, SAME, "linear")), 3, "lead",
         lambda v: _between(v, "low", None, "high"), lambda v: (v["low"] + v["high"]) / 2),
    Dist("Triangular", (Param("low", LOW, LEAD, "linear"), Param("mode", MODE, SAME, "linear"),
                        Param("high", HIGH, SAME, "linear")), 4, "lead",
         lambda v: _between(v, "low", "mode", "high"), lambda v: v["mode"]),
    Dist("Pareto", (Param("xm", ("xₘ", "xm", "x_m", "x_min", "scale"), LEAD, "linear"),
                    Param("alpha", ("α", "alpha", "shape"), PLAIN)), 5, "lead",
         _pareto, lambda v: _finite(pareto_median(v["xm"], v["alpha"]))),
    Dist("Exponential", (Param("lambda", ("λ", "lambda", "rate"), RATE, "inverse"),), 7, "lead",
         lambda v: _positive(v, "lambda"), lambda v: math.log(2.0) / v["lambda"]),
    Dist("Weibull", (Param("shape", ("k", "shape"), PLAIN), Param("scale", ("λ", "lambda", "scale"), LEAD, "linear")),
         8, "lead", lambda v: _positive(v, "shape", "scale"),
         lambda v: _finite(v["scale"] * math.log(2.0) ** (1.0 / v["shape"]))),
    Dist("Gamma", (Param("shape", ("k", "shape", "α", "alpha"), PLAIN),
                   Param("scale", ("θ", "theta", "scale"), LEAD, "linear")), 9, "lead",
         lambda v: _positive(v, "shape", "scale"), _gamma_median),
    Dist("StudentT", (Param("nu", ("ν", "nu", "df"), PLAIN), Param("mu", ("μ", "mu", "loc", "mean"), LEAD, "linear"),
                      Param("sigma", ("σ", "sigma", "scale"), SAME, "linear")), 10, "lead",
         lambda v: _positive(v, "nu", "sigma"), lambda v: v["mu"]),
    Dist("PERT", (Param("low", LOW, LEAD, "linear"), Param("mode", MODE, SAME, "linear"),
                  Param("high", HIGH, SAME, "linear")), 11, "lead",
         lambda v: _between(v, "low", "mode", "high"), lambda v: (v["low"] + 4 * v["mode"] + v["high"]) / 6),
    Dist("Poisson", (Param("lambda", ("λ", "lambda", "mean", "rate"), LEAD, "linear"),), 12, "lead",
         lambda v: _positive(v, "lambda"), lambda v: v["lambda"], discrete=True, rescalable=False),
    Dist("Bernoulli", (Param("p", ("p", "probability"), PROB),), 13, "fraction",
         lambda v: _probability(v, "p"), lambda v: v["p"], discrete=True, rescalable=False),
    Dist("Binomial", (Param("n", ("n", "trials"), COUNT), Param("p", ("p", "probability"), PROB)), 14, "count",
         _binomial, lambda v: v["n"] * v["p"], discrete=True, rescalable=False),
    Dist("Discrete", (Param("values", ("values", "x", "outcomes"), "list", "linear"),
                      Param("weights", ("weights", "w", "p", "probabilities"), "list")), None, "lead",
         lambda v: [], lambda v: None, discrete=True),
    Dist("Mixture", (Param("components", ("components", "distributions", "dists"), "list"),
                     Param("weights", ("weights", "w"), "list")), None, "lead",
         lambda v: [], lambda v: None),
)}
BY_LOWER = {name.lower(): name for name in DISTRIBUTIONS}
CODES = {d.name: d.code for d in DISTRIBUTIONS.values() if d.code is not None}


def lookup(word: str) -> Dist | None:
    """The distribution spelled `word` in any case (`normal`, `PERT`, `studentt`), else None."""
    name = BY_LOWER.get(word.lower())
    return None if name is None else DISTRIBUTIONS[name]


def problems(name: str, values: dict[str, float | None]) -> list[str]:
    """Violated conditions of a distribution's constant arguments (None: not a constant), and non-finite ones."""
    d = DISTRIBUTIONS.get(name)
    out = [] if d is None else d.problems(values)
    out += [f"{k} must be finite, got {v}" for k, v in values.items() if v is not None and not math.isfinite(v)]
    return out


def central(name: str, values: dict[str, float], log_space: bool = True) -> float | None:
    """The deterministic-mode value of a distribution with constant arguments (a natural-scale LogNormal: its
    mean μ); None when it cannot be known."""
    d = DISTRIBUTIONS[name]
    if name == "LogNormal" and not log_space:
        return values["mu"]
    if problems(name, dict(values)):
        return None
    try:
        return _finite(d.central(values))
    except (OverflowError, ValueError, ZeroDivisionError):
        return None
