"""Hand-written baselines of benchmarks/models/saas_bench.pel: a numba kernel on a thread pool, and numpy vectorized.

Both do the work PEL does for that model in monte_carlo mode: sample the four uncertain parameters per path, draw
the per-step demand shock, keep the full trajectory (t = 0..T) of the five outputs, check the warning constraint
`cash[t] >= minimum_cash` at every step, and summarise each output at each t by mean, std (ddof=1) and the
percentiles 5/10/25/50/75/90/95 (numpy's default "linear" method, as PEL's statistics use). The streams differ from
PEL's (same distributions, other random numbers), so results agree statistically, not bit for bit.

Keep the constants and the step below in step with the .pel file."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numba import njit

OUTPUTS = ("customers", "mrr", "cash", "cumulative_revenue", "deferred_revenue")
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)
BLOCK_SIZE = 4096  # paths per Generator and per kernel call (NOTES_numba.md)

# Parameters of saas_bench.pel (per-month step units).
INITIAL_CUSTOMERS = 1_000.0
ARPU_MU, ARPU_SD = 120.0, 10.0  # Normal
ACQ_MU, ACQ_SD = 0.06, 0.01  # Normal, per month
CHURN_A, CHURN_B = 3.0, 97.0  # Beta
CAC_MEAN, CAC_SD = 900.0, 200.0  # LogNormal given by its natural-scale mean and sd (a Currency μ)
GROSS_MARGIN = 0.78
PREPAID_SHARE = 0.25
FIXED_COSTS = 90_000.0
STARTING_CASH = 3_000_000.0
MINIMUM_CASH = 1_000_000.0
SHOCK_SD = 0.15  # new_customers[t] = customers[t] * acquisition_rate * (1 + ~Normal(0, 0.15))

CAC_SIGMA = math.sqrt(math.log1p((CAC_SD / CAC_MEAN) ** 2))
CAC_MU = math.log(CAC_MEAN) - CAC_SIGMA**2 / 2.0


@dataclass
class Summary:
    """Per output: arrays over t of each statistic; and the warning constraint's violation summary."""

    stats: dict[str, dict[str, np.ndarray]]  # output -> statistic ("mean", "std", "p5", ...) -> (T+1,)
    violations: int  # paths on which the constraint failed at least once
    first_t_min: int | None
    first_t_max: int | None
    first_t_mean: float | None


def _summary(mean: np.ndarray, std: np.ndarray, pct: np.ndarray, first: np.ndarray) -> Summary:
    """Package (V, T+1) moments, (V, T+1, 7) percentiles and the per-path first-violation steps (-1: none)."""
    stats = {}
    for k, name in enumerate(OUTPUTS):
        entry = {"mean": mean[k], "std": std[k]}
        for m, q in enumerate(PERCENTILES):
            entry[f"p{q}"] = pct[k, :, m]
        stats[name] = entry
    hit = first[first >= 0]
    if hit.size == 0:
        return Summary(stats, 0, None, None, None)
    return Summary(stats, int(hit.size), int(hit.min()), int(hit.max()), float(hit.mean()))


# ---------------------------------------------------------------------------------------------
# (a) numba: one serial nogil kernel per block of paths, blocks on a thread pool
# ---------------------------------------------------------------------------------------------


@njit(nogil=True, cache=True)
def _saas_block(rng, out, first, bmean, bm2, start, n):  # noqa: ANN001, ANN202 - numba kernel
    """Simulate paths start..start+n into out (V, T+1, runs); block moments into bmean/bm2 (V, T+1).

    Paths are the inner loop so every write to out is contiguous; the moments are accumulated in the same loop
    (sums of deviations from path 0's value, numerically safe), while the values are still in registers."""
    steps = out.shape[1]
    arpu = np.empty(n)
    acq = np.empty(n)
    churn = np.empty(n)
    cac = np.empty(n)
    for i in range(n):
        arpu[i] = rng.normal(ARPU_MU, ARPU_SD)
        acq[i] = rng.normal(ACQ_MU, ACQ_SD)
        churn[i] = rng.beta(CHURN_A, CHURN_B)
        cac[i] = rng.lognormal(CAC_MU, CAC_SIGMA)
    customers = np.full(n, INITIAL_CUSTOMERS)
    cash = np.full(n, STARTING_CASH)
    cumrev = np.zeros(n)
    deferred = np.zeros(n)
    for i in range(n):
        first[start + i] = -1
    for t in range(steps):
        h0, h1, h2, h3, h4 = customers[0], customers[0] * arpu[0], cash[0], cumrev[0], deferred[0]
        s0 = s1 = s2 = s3 = s4 = 0.0
        q0 = q1 = q2 = q3 = q4 = 0.0
        for i in range(n):
            c = customers[i]
            mrr = c * arpu[i]
            new = c * acq[i] * (1.0 + SHOCK_SD * rng.standard_normal())
            churned = c * churn[i]
            gross_profit = mrr * GROSS_MARGIN
            net_burn = FIXED_COSTS + new * cac[i] - gross_profit
            cs = cash[i]
            cr = cumrev[i]
            dr = deferred[i]
            p = start + i
            out[0, t, p] = c
            out[1, t, p] = mrr
            out[2, t, p] = cs
            out[3, t, p] = cr
            out[4, t, p] = dr
            if not cs >= MINIMUM_CASH and first[p] < 0:
                first[p] = t
            d0, d1, d2, d3, d4 = c - h0, mrr - h1, cs - h2, cr - h3, dr - h4
            s0 += d0
            s1 += d1
            s2 += d2
            s3 += d3
            s4 += d4
            q0 += d0 * d0
            q1 += d1 * d1
            q2 += d2 * d2
            q3 += d3 * d3
            q4 += d4 * d4
            customers[i] = c + new - churned
            cash[i] = cs - net_burn
            cumrev[i] = cr + mrr
            deferred[i] = dr * 11.0 / 12.0 + mrr * PREPAID_SHARE * 11.0 / 12.0
        bmean[0, t], bm2[0, t] = h0 + s0 / n, max(q0 - s0 * s0 / n, 0.0)
        bmean[1, t], bm2[1, t] = h1 + s1 / n, max(q1 - s1 * s1 / n, 0.0)
        bmean[2, t], bm2[2, t] = h2 + s2 / n, max(q2 - s2 * s2 / n, 0.0)
        bmean[3, t], bm2[3, t] = h3 + s3 / n, max(q3 - s3 * s3 / n, 0.0)
        bmean[4, t], bm2[4, t] = h4 + s4 / n, max(q4 - s4 * s4 / n, 0.0)


def _rank_plan(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order-statistic indices and weights of numpy's "linear" percentiles for n values (numpy's own formulas)."""
    quant = np.true_divide(np.asarray(PERCENTILES, dtype=float), 100)
    virtual = (n - 1) * quant
    lo = np.floor(virtual).astype(np.intp)
    gamma = virtual - lo
    return np.clip(lo, 0, n - 1), np.clip(lo + 1, 0, n - 1), gamma


def _select(a: np.ndarray, lo: int, hi: int, ranks: list[int]) -> None:
    """Put the order statistics `ranks` (sorted, within lo..hi) of a[lo:hi] in place: divide and conquer."""
    if not ranks:
        return
    m = len(ranks) // 2
    r = ranks[m]
    a[lo:hi].partition(r - lo)
    _select(a, lo, r, ranks[:m])
    _select(a, r + 1, hi, ranks[m + 1:])


def exact_percentiles(row: np.ndarray) -> np.ndarray:
    """np.percentile(row, PERCENTILES) bit for bit, about 3x faster: selects only the 14 needed order statistics.

    Releases the GIL inside numpy's partition, so rows run in parallel on a thread pool."""
    lo, hi, gamma = _rank_plan(row.size)
    a = row.copy()
    _select(a, 0, a.size, sorted(set(lo.tolist()) | set(hi.tolist())))
    x0, x1 = a[lo], a[hi]
    diff = x1 - x0
    return np.where(gamma >= 0.5, x1 - diff * (1 - gamma), x0 + diff * gamma)  # numpy's _lerp


def run_numba(runs: int, steps: int = 60, seed: int = 42, threads: int = 1) -> Summary:
    """The hand-written numba version: `steps` means t = 0..steps, as in PEL."""
    T1 = steps + 1
    V = len(OUTPUTS)
    n_blocks = -(-runs // BLOCK_SIZE)
    gens = [np.random.Generator(np.random.PCG64(s)) for s in np.random.SeedSequence(seed).spawn(n_blocks)]
    out = np.empty((V, T1, runs))
    first = np.empty(runs, np.int64)
    bmean = np.empty((n_blocks, V, T1))
    bm2 = np.empty((n_blocks, V, T1))

    def block(b: int) -> None:
        start = b * BLOCK_SIZE
        _saas_block(gens[b], out, first, bmean[b], bm2[b], start, min(BLOCK_SIZE, runs - start))

    cells = [(k, t) for k in range(V) for t in range(T1)]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(block, range(n_blocks)))
        pct = np.array(list(pool.map(lambda c: exact_percentiles(out[c[0], c[1]]), cells))).reshape(V, T1, len(PERCENTILES))
    # Chan et al. merge of the block moments, in block order.
    n = float(min(BLOCK_SIZE, runs))
    mean, m2 = bmean[0].copy(), bm2[0].copy()
    for b in range(1, n_blocks):
        nb = float(min(BLOCK_SIZE, runs - b * BLOCK_SIZE))
        delta = bmean[b] - mean
        total = n + nb
        mean += delta * (nb / total)
        m2 += bm2[b] + delta * delta * (n * nb / total)
        n = total
    std = np.sqrt(m2 / (n - 1)) if n > 1 else np.full_like(m2, np.nan)
    return _summary(mean, std, pct, first)


def warm_numba() -> None:
    """Compile (or load from numba's cache) the kernel, outside any timing."""
    run_numba(BLOCK_SIZE + 10, steps=3, seed=0, threads=2)


# ---------------------------------------------------------------------------------------------
# (b) numpy: arrays over all paths, a Python loop over t
# ---------------------------------------------------------------------------------------------


def run_numpy(runs: int, steps: int = 60, seed: int = 42) -> Summary:
    """The vectorized numpy version a data scientist would write (numpy's own threads only)."""
    rng = np.random.default_rng(seed)
    arpu = rng.normal(ARPU_MU, ARPU_SD, runs)
    acq = rng.normal(ACQ_MU, ACQ_SD, runs)
    churn = rng.beta(CHURN_A, CHURN_B, runs)
    cac = rng.lognormal(CAC_MU, CAC_SIGMA, runs)
    out = np.empty((len(OUTPUTS), steps + 1, runs))
    first = np.full(runs, -1, np.int64)
    customers = np.full(runs, INITIAL_CUSTOMERS)
    cash = np.full(runs, STARTING_CASH)
    cumrev = np.zeros(runs)
    deferred = np.zeros(runs)
    for t in range(steps + 1):
        mrr = customers * arpu
        new = customers * acq * (1.0 + SHOCK_SD * rng.standard_normal(runs))
        churned = customers * churn
        arr = mrr * 12.0  # noqa: F841 - part of the model (not an output): computed as the model says
        gross_profit = mrr * GROSS_MARGIN
        acquisition_spend = new * cac
        net_burn = FIXED_COSTS + acquisition_spend - gross_profit
        runway_ok = cash > MINIMUM_CASH  # noqa: F841 - part of the model (not an output)
        out[0, t] = customers
        out[1, t] = mrr
        out[2, t] = cash
        out[3, t] = cumrev
        out[4, t] = deferred
        first[(first < 0) & ~(cash >= MINIMUM_CASH)] = t
        customers = customers + new - churned
        cash = cash - net_burn
        cumrev = cumrev + mrr
        deferred = deferred * 11.0 / 12.0 + mrr * PREPAID_SHARE * 11.0 / 12.0
    mean = out.mean(axis=2)
    std = out.std(axis=2, ddof=1)
    pct = np.stack([np.percentile(out[k], PERCENTILES, axis=1).T for k in range(len(OUTPUTS))])
    return _summary(mean, std, pct, first)


def pel_summary(result: object) -> Summary:
    """The same Summary read from a PEL monte_carlo Result (for comparisons)."""
    stats = {}
    for name in OUTPUTS:
        var = result[name]  # type: ignore[index]
        stats[name] = {s: np.asarray(getattr(var, s)) for s in ("mean", "std", *(f"p{q}" for q in PERCENTILES))}
    entry = result.constraints["cash_buffer"]  # type: ignore[attr-defined]
    ft = entry["first_violation_t"]
    if not entry["violations"]:
        return Summary(stats, 0, None, None, None)
    return Summary(stats, int(entry["violations"]), ft["min"], ft["max"], ft["mean"])
