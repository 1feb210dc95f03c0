"""Statistics over paths: exact block-ordered merging of moments, and percentiles of the collected values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERCENTILES = (5, 10, 25, 50, 75, 90, 95)


@dataclass
class Moments:
    """Count, mean and sum of squared deviations per (variable, t); NaN entries are not counted."""

    n: np.ndarray  # (V, T+1) int64
    mean: np.ndarray  # (V, T+1)
    m2: np.ndarray  # (V, T+1)

    @staticmethod
    def of_block(x: np.ndarray) -> Moments:
        """Moments of a block of values x (V, B, T+1), NaN meaning "no value"."""
        valid = ~np.isnan(x)
        n = valid.sum(axis=1)
        total = np.where(valid, x, 0.0).sum(axis=1)
        mean = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
        dev = np.where(valid, x - mean[:, None, :], 0.0)
        return Moments(n.astype(np.int64), mean, (dev * dev).sum(axis=1))

    def merge(self, other: Moments) -> Moments:
        """Chan et al. pairwise merge; applied in block order it gives the same bits for any thread count."""
        n = self.n + other.n
        safe = np.maximum(n, 1)
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / safe)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / safe)
        return Moments(n, np.where(n > 0, mean, 0.0), np.where(n > 0, m2, 0.0))

    def std(self) -> np.ndarray:
        """Sample standard deviation (ddof=1); NaN where fewer than two values."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.n > 1, np.sqrt(self.m2 / np.maximum(self.n - 1, 1)), np.nan)


class Collector:
    """Keeps every path's value per (variable, t) to compute exact percentiles at the end.

    Memory is V x (T+1) x runs floats; a bounded-memory sketch can replace this class behind the same
    `add` / `percentiles` interface."""

    def __init__(self, n_vars: int, n_steps: int, runs: int) -> None:
        self.values = np.empty((n_vars, n_steps, runs))

    def add(self, start: int, x: np.ndarray) -> None:
        """Store a block x (V, B, T+1) of paths start..start+B."""
        self.values[:, :, start:start + x.shape[1]] = x.transpose(0, 2, 1)

    def percentiles(self, var: int, step: int) -> np.ndarray:
        """The PERCENTILES of one (variable, t) over the valid paths (linear interpolation); NaN if none."""
        row = self.values[var, step]
        mask = ~np.isnan(row)
        if not mask.all():
            row = row[mask]
        if row.size == 0:
            return np.full(len(PERCENTILES), np.nan)
        return np.percentile(row, PERCENTILES)
