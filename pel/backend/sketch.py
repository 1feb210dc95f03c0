"""Mergeable quantile sketch: sorted per-block compaction, block-ordered hierarchical merging, proven rank bound.

The data of one statistic cell (an output variable at one time step) is summarised by weighted items
(value, weight): the weight is the number of paths an item stands for. Its rank function is
R_S(v) = sum of the weights of the items <= v; the exact rank function of the data is R_D(v) = #{x <= v}.
A summary carries `err`, a proven bound on sup_v |R_S(v) - R_D(v)| (and the same for strict ranks), in paths.

Three operations, each with its error accounting:

* `compact_block` (level 0): the valid values of one block (at most 4096 paths) are sorted and cut into
  groups of K0 consecutive values; each group is replaced by its weighted median with the group's weight.
  For a query v, every group lies wholly below or above v except at most one, and the median
  representative of a group of weight w misplaces at most w/2 of its paths (precisely
  max(cum(r-1), w - cum(r)) where r is the representative), so err <= K0/2 per block.
* merging (concatenation, in block order): R_{S1+S2} = R_S1 + R_S2, so errors add. No new error.
* `compact` (level l >= 1): the merged items, sorted, are cut greedily into groups of weight <= W_l and
  each group is replaced by its weighted median: the same argument gives a new error <= W_l / 2.

`QuantileSketch` keeps pending summaries per level; FANOUT (G) summaries of level l are merged and
compacted with W_{l+1} = K0 * FACTOR**(l+1) into one of level l+1. A level-l summary covers 4096 * G**l
paths and its compaction added at most K0 * F**l / 2 paths of rank error, so over N paths (B blocks)

    err <= B * K0/2 * sum_l (F/G)**l < (N / 4096) * K0/2 / (1 - F/G)

and with K0 = 16, G = 16, F = 8 the relative rank error is below 2 * 16 / 8192 = 1/256 ~ 0.39% (every
summary also tracks its own, usually smaller, bound per cell: `rank_error_bound()`). A level-l summary
holds about (4096/K0) * (G/F)**l = 256 * 2**l items, fewer than G are pending per level, so the memory
is about 16 * 256 * 2**(L+1) items per cell for L = log_16(B) levels (32768 items for 10 million paths).

Percentile queries return, for the target rank r of np.percentile's linear method, the smallest item
whose cumulative weight exceeds r (interpolated between ranks floor(h) and floor(h)+1 the same way):
its true rank is within err of r. Everything is deterministic: the same blocks merged in the same block
order give the same bits, whatever thread or machine compacted each block.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

K0 = 16  # level-0 group size (paths per item) within a block
FANOUT = 16  # summaries of one level merged into one of the next
FACTOR = 8  # weight growth per level (FACTOR < FANOUT makes the per-level errors a geometric series)
BLOCK = 4096  # the block size the bound is stated for (sampling.BLOCK_SIZE)

# The relative rank-error bound of a sketch over full blocks, whatever the number of paths.
RELATIVE_BOUND = K0 / (2 * BLOCK) / (1 - FACTOR / FANOUT)

_JIT = os.environ.get("PEL_JIT", "1").strip() != "0"


@dataclass
class Summary:
    """Weighted items per cell: values (C, m) ascending per cell, NaN padding last; weights (C, m), 0 for padding."""

    values: np.ndarray  # (C, m) float64
    weights: np.ndarray  # (C, m) int64
    err: np.ndarray  # (C,) float64: rank-error bound, in paths
    count: np.ndarray  # (C,) int64: values summarised (the total weight)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes + self.weights.nbytes + self.err.nbytes + self.count.nbytes)


def compact_block(x: np.ndarray, k0: int = K0, *, inplace: bool = False) -> Summary:
    """Level-0 summary of one block: x (C, n), NaN meaning "no value"; groups of k0 sorted values.
    `inplace` sorts x itself (a scratch buffer) instead of a copy."""
    if x.ndim != 2:
        raise ValueError("compact_block expects a (cells, paths) array")
    c, n = x.shape
    if inplace:
        x.sort(axis=1)  # NaN sorts last
        s = x
    else:
        s = np.sort(x, axis=1)
    groups = -(-n // k0)
    vals = np.empty((c, groups))
    w = np.empty((c, groups), np.int64)
    err = np.empty(c)
    nv = np.empty(c, np.int64)
    _pick_medians(s, k0, vals, w, err, nv)
    return Summary(vals, w, err, nv)


def _pick_medians(s: np.ndarray, k0: int, vals: np.ndarray, w: np.ndarray, err: np.ndarray, nv: np.ndarray) -> None:
    """Per sorted row of s (NaN last): its valid count, then groups of k0 valid values (the last one partial)
    each replaced by its median (1-based position (w + 1) // 2), empty groups NaN with weight 0, and the
    row's worst misplaced weight max(r - 1, w - r)."""
    c, n = s.shape
    groups = vals.shape[1]
    for i in range(c):
        m = n
        while m > 0 and np.isnan(s[i, m - 1]):
            m -= 1
        nv[i] = m
        worst = 0
        for g in range(groups):
            wg = min(max(m - g * k0, 0), k0)
            w[i, g] = wg
            if wg == 0:
                vals[i, g] = np.nan
                continue
            r = (wg + 1) // 2
            vals[i, g] = s[i, g * k0 + r - 1]
            worst = max(worst, r - 1, wg - r)
        err[i] = float(worst)


def concat(parts: Sequence[Summary]) -> Summary:
    """The union of summaries (in the given order): errors and counts add."""
    if not parts:
        raise ValueError("concat of no summaries")
    if len(parts) == 1:
        return parts[0]
    return Summary(
        np.concatenate([p.values for p in parts], axis=1),
        np.concatenate([p.weights for p in parts], axis=1),
        np.sum([p.err for p in parts], axis=0),
        np.sum([p.count for p in parts], axis=0),
    )


def _sorted(s: Summary) -> tuple[np.ndarray, np.ndarray]:
    """Items of each cell sorted by value (ties in a fixed order), padding last."""
    pos = s.weights > 0
    wmax = np.where(pos, s.weights, 0).max(axis=1, initial=0)
    wmin = np.where(pos, s.weights, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
    uniform = (wmax == wmin) | (wmax == 0)
    vals = np.sort(s.values, axis=1)  # rows whose items all weigh the same need no permutation of weights
    wts = np.where(np.arange(s.values.shape[1])[None, :] < pos.sum(axis=1)[:, None], wmax[:, None], 0)
    odd = np.nonzero(~uniform)[0]
    if odd.size:
        order = np.argsort(s.values[odd], axis=1, kind="stable")
        vals[odd] = np.take_along_axis(s.values[odd], order, axis=1)
        wts[odd] = np.take_along_axis(s.weights[odd], order, axis=1)
    return vals, wts.astype(np.int64)


def _group(vals: np.ndarray, wts: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Per row (sorted by value, weight-0 padding last): greedy groups of weight <= cap, each replaced by its
    weighted median (the first item whose cumulative weight reaches half the group's)."""
    c, m = vals.shape
    out_v = np.full((c, m), np.nan)
    out_w = np.zeros((c, m), np.int64)
    err = np.zeros(c)
    width = 0
    for i in range(c):
        k = 0
        start = 0
        gw = 0
        worst = 0
        j = 0
        while j <= m:
            last = j == m or wts[i, j] == 0
            if gw > 0 and (last or gw + wts[i, j] > cap):
                cum = 0
                r = start
                while 2 * (cum + wts[i, r]) < gw:
                    cum += wts[i, r]
                    r += 1
                miss = max(cum, gw - cum - wts[i, r])  # weight before / after the representative
                if miss > worst:
                    worst = miss
                out_v[i, k] = vals[i, r]
                out_w[i, k] = gw
                k += 1
                start = j
                gw = 0
            if last:
                break
            gw += wts[i, j]
            j += 1
        err[i] = worst
        if k > width:
            width = k
    return out_v, out_w, err, width


if _JIT:
    import numba

    _group = numba.njit(nogil=True, cache=True)(_group)
    _pick_medians = numba.njit(nogil=True, cache=True)(_pick_medians)


def compact(parts: Sequence[Summary], cap: int) -> Summary:
    """Merge summaries and compact their union into groups of weight <= cap (see the module docstring)."""
    merged = concat(parts)
    vals, wts = _sorted(merged)
    out_v, out_w, added, width = _group(vals, wts, int(cap))
    return Summary(out_v[:, :width].copy(), out_w[:, :width].copy(), merged.err + added, merged.count)


def query(s: Summary, percents: Sequence[float]) -> np.ndarray:
    """Percentiles (C, len(percents)) in np.percentile's linear convention, from weighted items; NaN if empty."""
    vals, wts = _sorted(s)
    cum = np.cumsum(wts, axis=1)
    n = s.count
    out = np.full((vals.shape[0], len(percents)), np.nan)
    has = n > 0
    if not has.any() or vals.shape[1] == 0:
        return out
    rows = np.nonzero(has)[0]
    cv, cc, nn = vals[rows], cum[rows], n[rows]
    last = nn - 1
    for m, p in enumerate(percents):
        h = (p / 100.0) * (nn - 1)
        lo = np.floor(h).astype(np.int64)
        frac = h - lo
        hi = np.minimum(lo + 1, last)
        a = _order_stat(cv, cc, lo)
        b = _order_stat(cv, cc, hi)
        out[rows, m] = a + (b - a) * frac  # the same formula np.percentile uses (exact when a == b)
    return out


def _order_stat(vals: np.ndarray, cum: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The item holding 0-based rank `rank`: the first with cumulative weight > rank."""
    idx = np.array([np.searchsorted(cum[i], rank[i], side="right") for i in range(vals.shape[0])], np.int64)
    idx = np.minimum(idx, vals.shape[1] - 1)
    return vals[np.arange(vals.shape[0]), idx]


class QuantileSketch:
    """Block summaries added in block order; merged level by level (see the module docstring).

    With `submit` (e.g. a thread pool's), each merge runs as a task: the main thread only hands over the
    parts, waiting for a level's earlier merges before it merges them in turn. A merge is a pure function of
    its parts in their order, so the bits are the same either way."""

    def __init__(self, n_cells: int, *, k0: int = K0, fanout: int = FANOUT, factor: int = FACTOR,
                 submit: Callable[..., Future[Summary]] | None = None) -> None:
        if not (1 <= factor < fanout):
            raise ValueError("factor must be below fanout for a bounded error")
        self.n_cells = n_cells
        self.k0, self.fanout, self.factor = k0, fanout, factor
        self.levels: list[list[Summary | Future[Summary]]] = [[]]
        self.submit = submit
        self.peak_bytes = 0
        self._whole: Summary | None = None  # summary() since the last add

    def add(self, s: Summary) -> None:
        """Add the level-0 summary of the next block (summaries must come in block order)."""
        if s.values.shape[0] != self.n_cells:
            raise ValueError("summary has the wrong number of cells")
        self.levels[0].append(s)
        self._whole = None
        level = 0
        while len(self.levels[level]) >= self.fanout:
            parts = [_done(p) for p in self.levels[level]]
            self.levels[level] = []
            if len(self.levels) == level + 1:
                self.levels.append([])
            cap = self.k0 * self.factor ** (level + 1)
            merged = compact(parts, cap) if self.submit is None else self.submit(compact, parts, cap)
            self.levels[level + 1].append(merged)
            level += 1
        self.peak_bytes = max(self.peak_bytes, self.nbytes)

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for level in self.levels for s in level if isinstance(s, Summary))

    def summary(self) -> Summary:
        """Everything added so far, as one summary (highest level first: a fixed order)."""
        if self._whole is None:
            parts = [_done(s) for level in reversed(self.levels) for s in level]
            self.peak_bytes = max(self.peak_bytes, self.nbytes)
            if not parts:
                return Summary(np.empty((self.n_cells, 0)), np.empty((self.n_cells, 0), np.int64),
                               np.zeros(self.n_cells), np.zeros(self.n_cells, np.int64))
            self._whole = concat(parts)
        return self._whole

    def quantiles(self, percents: Sequence[float], parts: int = 1) -> np.ndarray:
        """Percentiles (C, len(percents)) of everything added so far; with `submit`, the cells are queried in
        `parts` runs on the pool (each cell on its own: the same bits)."""
        s = self.summary()
        c = s.values.shape[0]
        if self.submit is None or parts < 2 or c < 2:
            return query(s, percents)
        cuts = [c * k // parts for k in range(parts + 1)]
        jobs = [self.submit(query, Summary(s.values[lo:hi], s.weights[lo:hi], s.err[lo:hi], s.count[lo:hi]), percents)
                for lo, hi in zip(cuts, cuts[1:], strict=False) if hi > lo]
        return np.concatenate([job.result() for job in jobs], axis=0)

    def rank_error_bound(self) -> float:
        """The largest proven relative rank error over the cells with values (0.0 if none)."""
        s = self.summary()
        has = s.count > 0
        if not has.any():
            return 0.0
        return float(np.max(s.err[has] / s.count[has]))


def _done(part: Summary | Future[Summary]) -> Summary:
    return part.result() if isinstance(part, Future) else part


def theoretical_bound(k0: int = K0, fanout: int = FANOUT, factor: int = FACTOR, block: int = BLOCK) -> float:
    """The relative rank-error bound over full blocks: k0 / (2 block) / (1 - factor / fanout)."""
    return k0 / (2 * block) / (1 - factor / fanout)
