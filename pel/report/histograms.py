"""An output's distribution at the horizon as histogram bars: the run's own histogram of its paths when the Result
holds one, else bars between the percentiles a results file keeps (each bar's area is the share of paths in it)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pel.backend.results import Result

# The percentiles a results file keeps at each step, and the share of paths between consecutive ones.
_QUANTILES = ("p5", "p10", "p25", "p50", "p75", "p90", "p95")
_SHARES = (0.05, 0.15, 0.25, 0.25, 0.15, 0.05)


@dataclass(frozen=True)
class HorizonHistogram:
    """Bars of one output at the horizon: density (share of paths per unit of value) between edges."""

    name: str
    edges: np.ndarray  # (bins + 1,) ascending
    density: np.ndarray  # (bins,) share of paths per unit: the bars' areas add up to the share inside the edges
    below: float  # share of paths under edges[0]
    above: float  # share of paths over edges[-1]
    median: float
    source: str  # "paths", "sketch" or "percentiles"

    def label(self) -> str:
        """A few words on what the bars count, for a chart's title."""
        return {"paths": "all paths", "sketch": "quantile sketch", "percentiles": "bars between percentiles"}[
            self.source]

    def note(self) -> str:
        """How the bars were made and what they leave out, for the reader of the chart."""
        tails = f"{self.below:.1%} of paths below and {self.above:.1%} above the range shown"
        if self.source == "paths":
            return f"every path's value at the horizon; {tails}"
        if self.source == "sketch":
            return f"the quantile sketch's items at the horizon (within its rank-error bound); {tails}"
        return ("bars between the p5, p10, p25, p50, p75, p90 and p95 the results file keeps (the file holds no "
                f"path values); {tails}")


def horizon_histogram(result: Result, name: str) -> HorizonHistogram | None:
    """The horizon histogram of output `name`, or None (deterministic, text or Boolean, no path with a value)."""
    var = result.variables[name]
    if result.mode != "monte_carlo" or var.text is not None or var.boolean or len(var.t) == 0:
        return None
    median = float(var.p50[-1])
    kept = result.horizon_histograms.get(name)
    if kept is not None:
        total = float(kept.counts.sum()) + kept.below + kept.above
        if total <= 0:
            return None
        density = kept.counts / (total * np.diff(kept.edges))
        return HorizonHistogram(name, kept.edges, density, kept.below / total, kept.above / total, median,
                                kept.source)
    return _from_percentiles(result, name, median)


def _from_percentiles(result: Result, name: str, median: float) -> HorizonHistogram | None:
    var = result.variables[name]
    qs = np.array([float(getattr(var, q)[-1]) for q in _QUANTILES])
    if not np.all(np.isfinite(qs)) or qs[-1] <= qs[0]:
        return None
    edges, shares = [qs[0]], []
    carry = 0.0
    for k, share in enumerate(_SHARES):  # a bin of no width (a point mass) hands its share to the next bin
        if qs[k + 1] > edges[-1]:
            edges.append(qs[k + 1])
            shares.append(share + carry)
            carry = 0.0
        else:
            carry += share
    if carry:
        shares[-1] += carry
    e = np.array(edges)
    return HorizonHistogram(name, e, np.array(shares) / np.diff(e), 0.05, 0.05, median, "percentiles")
