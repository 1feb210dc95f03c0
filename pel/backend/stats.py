"""Statistics over paths: exact block-ordered merging of moments, and percentiles of the collected values."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from pel.backend.runtime import S_FATAL, S_FAULT, jit

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

    @staticmethod
    def of_kernel_block(out: np.ndarray, st: np.ndarray) -> Moments:
        """Moments of a kernel block's outputs `out` (V, T+1, B) after masking them in place: a faulted path has
        no values, a path stopped by a fatal constraint none after its stop (NaN). The same bits as `of_block`
        on the masked values, in one compiled pass without the GIL."""
        V, T1 = out.shape[0], out.shape[1]
        n = np.zeros((V, T1), np.int64)
        mean = np.zeros((V, T1))
        m2 = np.zeros((V, T1))
        block_moments(out, st, n, mean, m2)
        return Moments(n, mean, m2)

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

    Memory is V x (T+1) x runs floats: the engine uses it only while that fits its memory limit (beyond
    it, percentiles come from pel.backend.sketch)."""

    def __init__(self, n_vars: int, n_steps: int, runs: int) -> None:
        self.values = np.empty((n_vars, n_steps, runs))

    def add(self, start: int, x: np.ndarray) -> None:
        """Store a block x (V, B, T+1) of paths start..start+B."""
        self.values[:, :, start:start + x.shape[1]] = x.transpose(0, 2, 1)

    def percentiles(self, var: int, step: int, valid: int | None = None) -> np.ndarray:
        """The PERCENTILES of one (variable, t) over the valid paths (linear interpolation); NaN if none.

        Destroys the order of the stored row (selection in place); `valid` is the known count of non-NaN
        values, which saves a scan when every path has one."""
        row = self.values[var, step]
        if valid is None or valid != row.size:
            mask = ~np.isnan(row)
            if not mask.all():
                row = row[mask]
        if row.size == 0:
            return np.full(len(PERCENTILES), np.nan)
        return percentiles_inplace(row)


_Q = np.true_divide(np.array(PERCENTILES), 100)
SORT_MAX = 65_536  # rows of at most this many values: sorting many rows in one call beats per-row selection


def sorted_rows_percentiles(rows: np.ndarray, valid: np.ndarray, out: np.ndarray) -> None:
    """np.percentile(row[~isnan(row)], PERCENTILES), the same bits, of every row of `rows` (k, R) into out (k, P),
    given each row's count of non-NaN values `valid` (k,). Sorts the rows in place (NaN last), one call that
    releases the GIL: for short rows numpy's vectorized sort costs less than selection and its per-call overhead."""
    rows.sort(axis=-1)
    for n in np.unique(valid):
        sel = np.flatnonzero(valid == n)
        if n == 0:
            out[sel] = np.nan
            continue
        lo, hi, gamma, upper = _lerp_plan(int(n))
        a = rows[sel[:, None], lo[None, :]]
        b = rows[sel[:, None], hi[None, :]]
        diff = b - a  # numpy's _lerp, element for element
        res = a + diff * gamma
        np.subtract(b, diff * (1 - gamma), out=res, where=upper)
        out[sel] = res


@functools.lru_cache(maxsize=256)
def _lerp_plan(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """numpy's lower and upper ranks, weights and upper-side flags of the linear method for rows of n values
    (the same per n: computed once, as numpy computes them; read-only, as they are shared)."""
    vi = (n - 1) * _Q  # numpy's virtual indexes
    prev = np.floor(vi)
    nxt = prev + 1
    prev[vi >= n - 1] = -1
    nxt[vi >= n - 1] = -1
    gamma = vi - prev
    plan = (prev.astype(np.intp) % n, nxt.astype(np.intp) % n, gamma, gamma >= 0.5)
    for arr in plan:
        arr.flags.writeable = False
    return plan


def percentiles_inplace(row: np.ndarray) -> np.ndarray:
    """np.percentile(row, PERCENTILES) (method "linear"), the same bits, for a row without NaN; the row is
    reordered. numpy selects all 14 ranks with one multi-kth partition; here each partition works only
    on the segment between ranks already placed (about 2.5x less work on a million values)."""
    n = row.shape[0]
    steps, fetch, ia, ib, gamma, upper = _rank_plan(n)
    for lo, hi, k in steps:  # middle rank first, then each side's within its segment
        row[lo:hi].partition(k - lo)
    stats = np.array([row[k] if end == k else row[k:end].min() for k, end in fetch], dtype=np.float64)
    a = stats[ia]
    b = stats[ib]
    diff = b - a  # numpy's _lerp
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=upper)
    return out


@functools.lru_cache(maxsize=256)
def _rank_plan(n: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int]], np.ndarray, np.ndarray,
                                np.ndarray, np.ndarray]:
    """For rows of n values: the partitions (segment lo, hi, rank) placing the ranks selected (see
    _select_steps), (rank, end of its segment) of every rank needed (a rank right after a placed one is the
    least value of the segment that follows it), the positions of numpy's lower and upper ranks in that list,
    and the interpolation weights (the same per n: computed once, as numpy computes them)."""
    lo, hi, gamma, upper = _lerp_plan(n)
    ranks = sorted({int(k) for k in np.concatenate((lo, hi))})
    placed = [k for k in ranks if k - 1 not in ranks or k - 2 in ranks]
    fetch = [(k, k if k in placed else next((p for p in placed if p >= k), n)) for k in ranks]
    pos = {k: m for m, k in enumerate(ranks)}
    ia = np.array([pos[int(k)] for k in lo], np.intp)
    ib = np.array([pos[int(k)] for k in hi], np.intp)
    ia.flags.writeable = False
    ib.flags.writeable = False
    steps: list[tuple[int, int, int]] = []
    _select_steps(0, n, placed, steps)
    return steps, fetch, ia, ib, gamma, upper


def _select_steps(lo: int, hi: int, ranks: list[int], out: list[tuple[int, int, int]]) -> None:
    """The partitions placing `ranks` (sorted, within lo..hi-1) of a row segment lo..hi, in order: the middle
    rank first, then each side's ranks within its own segment."""
    if not ranks:
        return
    m = len(ranks) // 2
    k = ranks[m]
    out.append((lo, hi, k))
    _select_steps(lo, k, ranks[:m], out)
    _select_steps(k + 1, hi, ranks[m + 1:], out)


@jit
def block_moments(out, st, n, mean, m2):  # noqa: ANN001, ANN201 - compiled
    """Mask out (V, T+1, B) in place after each path's last step and fill n, mean, m2 (V, T+1), summing over
    paths in path order (as numpy does along the path axis). Paths are the inner, contiguous loop."""
    V, T1, B = out.shape
    last = np.empty(B, np.int64)
    for i in range(B):
        s = T1 - 1
        if st[0, i] == S_FAULT:
            s = -1
        elif st[0, i] == S_FATAL:
            s = max(min(st[1, i], T1 - 1), -1)
        last[i] = s
    cnt = np.zeros(T1, np.int64)
    for i in range(B):
        for t in range(last[i] + 1):
            cnt[t] += 1
    for v in range(V):
        for t in range(T1):
            row = out[v, t]
            acc = 0.0
            for i in range(B):
                if last[i] >= t:
                    acc += row[i]
                else:
                    row[i] = np.nan
            mu = acc / cnt[t] if cnt[t] > 0 else 0.0
            acc = 0.0
            for i in range(B):
                if last[i] >= t:
                    d = row[i] - mu
                    acc += d * d
            n[v, t] = cnt[t]
            mean[v, t] = mu
            m2[v, t] = acc
