"""A model's loaded kernel: its chunk functions, their array layout for a horizon, and the block driver that calls
them step by step for a block of paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pel.backend import runtime as rt
from pel.backend.codegen import KernelSource


@dataclass
class Kernel:
    """The compiled chunks of one model (functions in the order of `source.chunks`)."""

    source: KernelSource
    functions: list[Callable[..., None]]
    timings: dict[str, float] = field(default_factory=dict)  # seconds: codegen, jit (load and compile)

    def cache_stats(self) -> tuple[int, int] | None:
        """(numba cache hits, misses) over the chunk functions; None when they run as plain Python."""
        if not all(hasattr(f, "stats") for f in self.functions):
            return None
        hits = sum(sum(f.stats.cache_hits.values()) for f in self.functions)
        return hits, sum(sum(f.stats.cache_misses.values()) for f in self.functions)

    @property
    def n_params_chunks(self) -> int:
        return sum(1 for c in self.source.chunks if c.kind == "params")


@dataclass
class Layout:
    """Where each row lives for a run of horizon T, and each chunk's `ix` array."""

    T: int
    tmp_rows: int  # rows of tmp: every temporary variable's ring of steps
    rings: dict[str, tuple[int, int]]  # temporary variable -> (first row, depth)
    k_data: np.ndarray  # the constant arrays, one after the other
    n_l: int  # rows of L (computed arrays)
    n_msg: int  # message values per constraint
    pp_index: np.ndarray  # parameters whose end-of-step values feed `changes` / percentChange
    ix: list[np.ndarray]
    fixed_rows: np.ndarray  # parameters written from data (KernelSource.fixed): their rows,
    fixed_values: np.ndarray  # values,
    fixed_overridable: np.ndarray  # and whether an override replaces the value
    tab_rows: np.ndarray  # parameters sampled from a table (KernelSource.tabled): their rows,
    tab_codes: np.ndarray  # distribution codes,
    tab_args: np.ndarray  # (n, 3) arguments,
    tab_zcols: np.ndarray  # columns of zmat,
    tab_btabs: np.ndarray  # Beta tables (-1: none),
    tab_sites: np.ndarray  # and fault sites


def layout(kernel: Kernel, T: int) -> Layout:
    """The layout of `kernel` for steps 0..T: temporary variables read only a few steps back get a ring of that
    many rows instead of T + 1 (the memory of a block does not grow with the horizon for them)."""
    src = kernel.source
    rings: dict[str, tuple[int, int]] = {}
    row = 0
    for name, (need, full) in src.tmp_vars.items():
        depth = T + 1 if full else min(max(need, 1), T + 1)
        rings[name] = (row, depth)
        row += depth
    k_base: dict[str, int] = {}
    pieces: list[np.ndarray] = []
    at = 0
    for name, values in src.constants.items():
        k_base[name] = at
        pieces.append(np.asarray(values, dtype=np.float64))
        at += len(values)
    k_data = np.concatenate(pieces) if pieces else np.zeros(1)
    l_base: dict[str, int] = {}
    n_l = 0
    for name, length in src.arrays.items():
        l_base[name] = n_l
        n_l += length
    index = {
        "param": {n: k for k, n in enumerate(src.params)},
        "out": {n: k for k, n in enumerate(src.outputs)},
        "zcol": {n: k for k, n in enumerate(src.dist_columns)},
        "btab": {n: k for k, n in enumerate(src.beta_tables)},
        "ov": {n: k for k, n in enumerate(src.sticky)},
        "pp": {n: k for k, n in enumerate(src.prev_params)},
        "K": k_base,
        "L": l_base,
    }
    bases = {"sites": 0, "zbase": 0, "cbase": 0, "ebase": 0}
    ix: list[np.ndarray] = []
    for chunk in src.chunks:
        values = []
        for key in chunk.slots:
            kind = key[0]
            if kind in bases:
                values.append(bases[kind])
            elif kind == "tmpb":
                values.append(rings[key[1]][0])
            elif kind == "tmpd":
                values.append(rings[key[1]][1])
            else:
                values.append(index[kind][key[1]])
        ix.append(np.asarray(values or [0], dtype=np.int64))
        bases["sites"] += len(chunk.sites)
        bases["zbase"] += len(chunk.streams)
        bases["cbase"] += chunk.n_constraints
        bases["ebase"] += len(chunk.emits)
    n_msg = max([1] + [sum(1 for _, kind in parts if kind != "text") for parts in src.messages])
    pp_index = np.asarray([index["param"][n] for n in src.prev_params], dtype=np.intp)
    fixed_rows = np.asarray([index["param"][n] for n, _, _ in src.fixed], dtype=np.intp)
    fixed_values = np.asarray([v for _, v, _ in src.fixed], dtype=np.float64)
    fixed_ov = np.asarray([ov for _, _, ov in src.fixed], dtype=np.bool_)
    tab = src.tabled
    tab_sites = np.arange(len(tab), dtype=np.int64) + bases["sites"]  # after every chunk's sites
    return Layout(T, row, rings, k_data, n_l, n_msg, pp_index, ix, fixed_rows, fixed_values, fixed_ov,
                  tab_rows=np.asarray([index["param"][n] for n, _, _ in tab], dtype=np.int64),
                  tab_codes=np.asarray([c for _, c, _ in tab], dtype=np.int64),
                  tab_args=np.asarray([a for _, _, a in tab], dtype=np.float64).reshape(len(tab), 3),
                  tab_zcols=np.asarray([index["zcol"][n] for n, _, _ in tab], dtype=np.int64),
                  tab_btabs=np.asarray([index["btab"].get(n, -1) for n, _, _ in tab], dtype=np.int64),
                  tab_sites=tab_sites)


Z_BLOCK_BYTES = 64 << 20  # inline scores kept for a whole block up to this size; beyond, drawn step by step


def z_steps(lay: Layout, sites: int, n: int) -> int:
    """Steps of inline scores a block holds: all of them (one fill per draw site and block), or one."""
    return lay.T + 1 if sites * (lay.T + 1) * n * 8 <= Z_BLOCK_BYTES else 1


@dataclass
class Buffers:
    """The arrays of one block of n paths (path is the last, contiguous axis of each)."""

    P: np.ndarray  # (params, n) per-path parameter values (policies may change them)
    out: np.ndarray  # (outputs, T+1, n): may be a view into the run's collector
    tmp: np.ndarray  # (rows, n): rings of the temporary variables
    st: np.ndarray  # (4, n) int64: status, step, site or constraint, fault kind
    Z: np.ndarray  # (draw sites, T+1 or 1, n): standard-normal scores of inline draws, every step or this one
    L: np.ndarray  # (rows, n): elements of computed arrays at the current step
    cfirst: np.ndarray  # (C, n) first violating step, -1 if none
    ccount: np.ndarray  # (C, n) violating steps
    cmsg: np.ndarray  # (C, n_msg, n) message values at the first violation
    wlog: np.ndarray  # (C, T+1) int8: deterministic runs, violations by step
    wvals: np.ndarray  # (C, T+1, n_msg)
    evc: np.ndarray  # (events, T+1) emitted events by step
    ov: np.ndarray  # (sticky vars, n) bool: a policy set the variable
    PP: np.ndarray  # (prev params, n) end-of-previous-step values
    zmat: np.ndarray  # (distribution params, n) standard-normal scores, copula applied

    def reset(self) -> None:
        """Ready a reused block for the next kernel call (P, tmp, Z, L and PP are written before they are read)."""
        self.st.fill(0)
        self.cfirst.fill(-1)
        self.ccount.fill(0)
        self.cmsg.fill(np.nan)
        self.wlog.fill(0)
        self.wvals.fill(np.nan)
        self.evc.fill(0)
        self.ov.fill(False)

    @staticmethod
    def alloc(kernel: Kernel, lay: Layout, n: int, zmat: np.ndarray, out: np.ndarray | None = None) -> Buffers:
        src = kernel.source
        T1, C = lay.T + 1, len(src.constraints)
        return Buffers(
            P=np.full((max(len(src.params), 1), n), np.nan),
            out=np.empty((len(src.outputs), T1, n)) if out is None else out,
            tmp=np.empty((max(lay.tmp_rows, 1), n)),
            st=np.zeros((4, n), np.int64),
            Z=np.zeros((max(len(src.streams), 1), z_steps(lay, len(src.streams), n), n)),
            L=np.zeros((max(lay.n_l, 1), n)),
            cfirst=np.full((max(C, 1), n), -1, np.int64),
            ccount=np.zeros((max(C, 1), n), np.int64),
            cmsg=np.full((max(C, 1), lay.n_msg, n), np.nan),
            wlog=np.zeros((max(C, 1), T1), np.int8),
            wvals=np.full((max(C, 1), T1, lay.n_msg), np.nan),
            evc=np.zeros((max(len(src.emits), 1), T1), np.int64),
            ov=np.zeros((max(len(src.sticky), 1), n), np.bool_),
            PP=np.zeros((max(len(src.prev_params), 1), n)),
            zmat=zmat,
        )


def run_block(kernel: Kernel, lay: Layout, buf: Buffers, det: bool, btab: np.ndarray, ovm: np.ndarray,
              ovv: np.ndarray, generators: Sequence[Any] = (), params_only: bool = False) -> None:
    """Run every chunk over the block: parameters once, then each step's chunks in order. The scores of the
    inline draws of step s are drawn for every path of the block before its chunks run (one generator per draw
    site, consumed step by step), so a path's draws never depend on what other paths did."""
    T = lay.T
    args = (buf.P, buf.out, buf.tmp, buf.st, buf.Z, buf.L, lay.k_data, buf.cfirst, buf.ccount, buf.cmsg,
            buf.wlog, buf.wvals, buf.evc, buf.ov, buf.PP, buf.zmat, btab, ovm, ovv)
    calls = list(zip(kernel.functions, lay.ix, strict=True))
    first = kernel.n_params_chunks
    if len(lay.fixed_rows):
        rows = lay.fixed_rows
        values = np.where(ovm[rows] & lay.fixed_overridable, ovv[rows], lay.fixed_values)
        buf.P[rows] = values[:, None]
    if len(lay.tab_rows):
        rt.sample_table(0, det, buf.P, buf.st, buf.zmat, btab, ovm, ovv, lay.tab_rows, lay.tab_codes, lay.tab_args,
                        lay.tab_zcols, lay.tab_btabs, lay.tab_sites)
    for fn, ix in calls[:first]:
        fn(0, T, det, *args, ix)
    if params_only:
        return
    has_pp = len(lay.pp_index) > 0
    if has_pp:
        buf.PP[: len(lay.pp_index)] = buf.P[lay.pp_index]
    status = buf.st[0]
    whole = buf.Z.shape[1] == T + 1
    if whole:  # the same numbers as step by step: each generator is consumed in step order either way
        for k, g in enumerate(generators):
            rt.fill_normals(g, buf.Z[k])
    for s in range(T + 1):
        if not (status == 0).any():
            break  # every path stopped
        if not whole:
            for k, g in enumerate(generators):
                rt.fill_normals(g, buf.Z[k])
        for fn, ix in calls[first:]:
            fn(s, T, det, *args, ix)
        if has_pp:
            buf.PP[: len(lay.pp_index)] = buf.P[lay.pp_index]
