"""Histograms of the Monte Carlo outputs at the horizon step: of every path's value, or of the quantile sketch's items."""

from __future__ import annotations

import numpy as np

from pel.backend.results import Histogram
from pel.backend.runtime import jit
from pel.backend.sketch import Summary

BINS = 40
TAIL = 1.0  # the bins reach at most this many (p95 - p5) widths beyond p5 and p95; the rest is counted apart


@jit
def _extent(x):  # noqa: ANN001, ANN201 - compiled
    """The least and greatest non-NaN values of x (NaN, NaN when there are none)."""
    lo, hi = np.inf, -np.inf
    for v in x:
        if v < lo:
            lo = v
        if v > hi:
            hi = v
    if lo > hi:
        return np.nan, np.nan
    return lo, hi


@jit
def _count(x, w, lo, hi, counts):  # noqa: ANN001, ANN201 - compiled
    """Add the weights w of the values x into `counts` (equal bins from lo to hi); return the weight below lo and
    above hi. NaN values are skipped; a value equal to hi falls in the last bin, as in numpy.histogram."""
    nb = counts.shape[0]
    scale = nb / (hi - lo)
    below = 0.0
    above = 0.0
    for i in range(x.shape[0]):
        v = x[i]
        if v != v:
            continue
        if v < lo:
            below += w[i]
        elif v > hi:
            above += w[i]
        else:
            k = int((v - lo) * scale)
            counts[min(k, nb - 1)] += w[i]
    return below, above


def bin_range(lo: float, hi: float, p5: float, p95: float) -> tuple[float, float]:
    """The range the bins cover: the values' extent, cut at TAIL spreads beyond p5 and p95 (a nonzero width)."""
    spread = p95 - p5
    if np.isfinite(spread) and spread > 0:
        lo, hi = max(lo, p5 - TAIL * spread), min(hi, p95 + TAIL * spread)
    if not hi > lo:
        pad = max(abs(lo) * 1e-6, 0.5)
        lo, hi = lo - pad, hi + pad
    return float(lo), float(hi)


def of_values(x: np.ndarray, p5: float, p95: float, bins: int = BINS) -> Histogram | None:
    """The histogram of one output's values at the horizon over the paths (NaN: no value); None if none has one."""
    lo, hi = _extent(x)
    if not np.isfinite(lo) or not np.isfinite(hi):
        return None
    lo, hi = bin_range(lo, hi, p5, p95)
    counts = np.zeros(bins)
    below, above = _count(x, np.ones(x.shape[0]), lo, hi, counts)
    return Histogram(np.linspace(lo, hi, bins + 1), counts, float(below), float(above), "paths")


def of_sketch(summary: Summary, cell: int, p5: float, p95: float, bins: int = BINS) -> Histogram | None:
    """The histogram of one sketch cell: its items weighted by the paths each stands for."""
    keep = summary.weights[cell] > 0
    x = summary.values[cell][keep]
    if x.size == 0:
        return None
    w = summary.weights[cell][keep].astype(np.float64)
    lo, hi = _extent(x)
    lo, hi = bin_range(lo, hi, p5, p95)
    counts = np.zeros(bins)
    below, above = _count(x, w, lo, hi, counts)
    return Histogram(np.linspace(lo, hi, bins + 1), counts, float(below), float(above), "sketch")
