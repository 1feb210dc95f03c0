"""The quantile sketch: proven rank-error bound checked against exact percentiles, determinism, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from pel.backend import sketch as sk

PCTS = (5, 10, 25, 50, 75, 90, 95)


def _rank_error(sorted_row: np.ndarray, y: float, p: float) -> float:
    """How far the true rank of y is from p/100 (0 when y could be that percentile)."""
    n = sorted_row.size
    lo = np.searchsorted(sorted_row, y, "left") / n
    hi = np.searchsorted(sorted_row, y, "right") / n
    return max(0.0, lo - p / 100, p / 100 - hi)


def _feed(blocks: list[np.ndarray], **kw) -> sk.QuantileSketch:
    s = sk.QuantileSketch(blocks[0].shape[0], **kw)
    for x in blocks:
        s.add(sk.compact_block(x))
    return s


def _data(seed: int, n_blocks: int, last: int = 4096) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for b in range(n_blocks):
        n = last if b == n_blocks - 1 else 4096
        x = np.stack([
            rng.standard_normal(n),
            rng.lognormal(0.0, 2.0, n),  # heavy tail
            rng.integers(0, 5, n).astype(float),  # many ties
            np.where(rng.random(n) < 0.2, np.nan, rng.uniform(size=n) + b * 0.01),  # NaNs and drift
        ])
        out.append(x)
    return out


@pytest.mark.parametrize(("n_blocks", "fanout", "factor"), [(40, 16, 8), (70, 4, 2), (33, 3, 1)])
def test_rank_error_within_proven_bound(n_blocks: int, fanout: int, factor: int) -> None:
    blocks = _data(n_blocks, n_blocks, last=1234)
    s = _feed(blocks, fanout=fanout, factor=factor)
    assert len(s.levels) >= 2  # the hierarchical compaction ran
    q = s.quantiles(PCTS)
    summary = s.summary()
    data = np.concatenate(blocks, axis=1)
    for c in range(data.shape[0]):
        row = np.sort(data[c][~np.isnan(data[c])])
        assert summary.count[c] == row.size
        bound = summary.err[c] / row.size
        # the proof bounds the error per block of 4096 paths, whatever share of them has a value
        assert bound <= sk.theoretical_bound(fanout=fanout, factor=factor) * 4096 * n_blocks / row.size
        for m, p in enumerate(PCTS):
            assert _rank_error(row, q[c, m], p) <= bound + 1.0 / row.size


def test_default_bound_is_below_half_a_percent() -> None:
    assert sk.RELATIVE_BOUND < 0.005
    s = _feed(_data(1, 80))
    assert s.rank_error_bound() <= sk.RELATIVE_BOUND


def test_exact_when_no_compaction_is_needed() -> None:
    x = np.random.default_rng(3).standard_normal((2, 4096))
    s = sk.QuantileSketch(2, k0=1)
    s.add(sk.compact_block(x, k0=1))
    assert s.rank_error_bound() == 0.0
    np.testing.assert_array_equal(s.quantiles(PCTS), np.percentile(x, PCTS, axis=1).T)


def test_deterministic_and_memory_bounded() -> None:
    blocks = _data(5, 300)
    a, b = _feed(blocks), _feed([x.copy() for x in blocks])
    assert a.quantiles(PCTS).tobytes() == b.quantiles(PCTS).tobytes()
    assert a.peak_bytes < sum(x.nbytes for x in blocks) / 8


def test_empty_and_all_nan_cells() -> None:
    x = np.full((2, 100), np.nan)
    x[1, :3] = [3.0, 1.0, 2.0]
    s = sk.QuantileSketch(2)
    s.add(sk.compact_block(x))
    q = s.quantiles((50,))
    assert np.isnan(q[0, 0]) and q[1, 0] == 2.0
    assert np.isnan(sk.QuantileSketch(1).quantiles((50,))).all()


def test_constant_column_is_exact() -> None:
    s = _feed([np.full((1, 4096), 7.5)] * 20, fanout=4, factor=2)
    assert (s.quantiles(PCTS) == 7.5).all()
