"""Quantiles of a declared distribution in step units, by the runtime's own inverse CDF: the distribution the kernels
sample, defined once (`pel drift`'s declared P5-P95, the tornado's P10/P90 swings)."""

from __future__ import annotations

import math
from statistics import NormalDist

from pel.ir import nodes as ir


def runtime_args(d: ir.Distribution) -> tuple[int, float, float, float] | None:
    """The runtime's (distribution code, a, b, c) for `d`, exactly as the kernels sample it; None when an
    argument is not a number."""
    from pel.backend.exprgen import constant_dist_args

    found = constant_dist_args(d)
    return None if found is None else (found[0], *found[1])


def quantile(d: ir.Distribution, q: float) -> float | None:
    """The q-quantile of `d` in step units, by the runtime's own inverse CDF (`rt.from_z` at the normal score of
    q: one definition of every distribution), a mixture's by root finding on its CDF; None when unknown."""
    import numpy as np
    from scipy.optimize import brentq

    from pel.backend import runtime as rt

    z = NormalDist().inv_cdf(q)
    err = np.zeros(1, np.int64)

    def ppf(args: tuple[int, float, float, float]) -> float | None:
        value = float(rt.from_z(*args, z, err))
        return value if err[0] == 0 and math.isfinite(value) else None

    if d.distribution_type != "Mixture":
        args = runtime_args(d)
        return None if args is None else ppf(args)
    comps = [runtime_args(c) for c in d.components]
    if not comps or any(c is None for c in comps):
        return None
    qs = [ppf(c) for c in comps]  # type: ignore[arg-type]
    if any(v is None for v in qs):
        return None
    lo, hi = min(qs), max(qs)  # type: ignore[type-var]
    if lo == hi:
        return lo

    def cdf(x: float) -> float:
        return sum(w * float(rt.cdf(*c, x)) for w, c in zip(d.weights, comps, strict=True)) - q  # type: ignore[misc]

    return float(brentq(cdf, lo, hi, xtol=1e-14 * max(1.0, abs(lo), abs(hi))))
