"""Standard errors of Monte Carlo means and the `--until-se` stopping rule (checked after each block, in order)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from pel.diagnostics import RunError, simple

REASON_CONVERGED = "converged"
REASON_MAX_RUNS = "max_runs"
REASON_ALL_RUNS = "runs_completed"


def standard_error(n: np.ndarray, m2: np.ndarray) -> np.ndarray:
    """Standard error of the mean, std / sqrt(n) with the sample std (ddof=1); NaN where n < 2."""
    n = np.asarray(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(n > 1, np.asarray(m2) / np.maximum(n - 1, 1), np.nan)
        return np.where(n > 1, np.sqrt(var / np.maximum(n, 1)), np.nan)


def relative_se(mean: np.ndarray, se: np.ndarray) -> np.ndarray:
    """se / |mean| per cell: 0 where se is 0 (a constant), inf where the mean is 0 but se is not,
    NaN where there is no estimate (fewer than two values)."""
    mean, se = np.asarray(mean, np.float64), np.asarray(se, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(se) / np.abs(mean)
    rel = np.where(se == 0.0, 0.0, rel)
    return np.where(np.isnan(se), np.nan, rel)


def worst_relative_se(mean: np.ndarray, se: np.ndarray) -> np.ndarray:
    """Per output (rows of (V, T+1) arrays): the largest relative SE over its time steps with an estimate
    (NaN if no step has one)."""
    rel = relative_se(mean, se)
    out = np.full(rel.shape[0], np.nan)
    for v in range(rel.shape[0]):
        row = rel[v][~np.isnan(rel[v])]
        if row.size:
            out[v] = float(row.max())
    return out


def check_target(until_se: float | None) -> None:
    """Refuse a target that is not a positive finite number (E0011)."""
    if until_se is None:
        return
    if isinstance(until_se, bool) or not isinstance(until_se, (int, float)) or not math.isfinite(until_se) \
            or until_se <= 0:
        raise RunError(simple("E0011", f"until_se must be a positive number (e.g. 0.01 for 1%), got {until_se!r}"))


@dataclass
class StopRule:
    """`until_se`: stop once every output's worst relative SE is below it (never before `min_paths`);
    `max_paths`: the cap (the run's --runs)."""

    until_se: float | None
    max_paths: int
    min_paths: int = 8192
    names: Sequence[str] = ()
    history: list[tuple[int, float]] = field(default_factory=list)  # (paths, worst relative SE) per check

    def __post_init__(self) -> None:
        check_target(self.until_se)

    def converged(self, paths: int, mean: np.ndarray, se: np.ndarray) -> bool:
        """True when the target is met after `paths` paths (statistics merged in block order)."""
        if self.until_se is None:
            return False
        worst = worst_relative_se(mean, se)
        value = float(np.nanmax(worst)) if not np.all(np.isnan(worst)) else math.inf
        self.history.append((paths, value))
        return paths >= min(self.min_paths, self.max_paths) and value < self.until_se

    def report(self, paths: int, stopped_early: bool, mean: np.ndarray, se: np.ndarray) -> dict:
        """What the results file says about convergence: paths run, why the run stopped, the achieved SEs."""
        worst = worst_relative_se(mean, se)
        if self.until_se is None:
            reason = REASON_ALL_RUNS
        else:
            # an output without an estimate (NaN: no step with two values) has not converged
            reason = REASON_CONVERGED if stopped_early or bool(np.all(worst < self.until_se)) else REASON_MAX_RUNS
        names = list(self.names) or [str(k) for k in range(len(worst))]
        return {
            "paths": int(paths),
            "max_paths": int(self.max_paths),
            "stopped": reason,
            "until_se": None if self.until_se is None else float(self.until_se),
            "relative_se": {name: _json(w) for name, w in zip(names, worst, strict=True)},
        }


def _json(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
