"""Run engine: deterministic and Monte Carlo runs of a model's kernel over fixed blocks of paths."""

from __future__ import annotations

import hashlib
import math
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from pel import __version__, limits
from pel.backend import cache, convergence, histogram, kernel, sampling, sketch
from pel.backend import runtime as rt
from pel.backend.codegen import KernelSource
from pel.backend.emit import const_value
from pel.backend.kernel import Buffers, Kernel, Layout
from pel.backend.results import Result, VarResult, json_float
from pel.backend.stats import PERCENTILES, SORT_MAX, Collector, Moments, sorted_rows_percentiles
from pel.diagnostics import RunError, Span, simple
from pel.ir import nodes as ir
from pel.overrides import param_value

PARALLEL_THRESHOLD = 100_000  # path-steps below which a run stays on one thread
DEFAULT_MEMORY_LIMIT = 1 << 30  # bytes of collected values for exact percentiles (beyond: the sketch)


@dataclass
class Plan:
    """Everything a block needs besides the random numbers."""

    program: ir.Program
    kernel: Kernel
    layout: Layout
    T: int
    btab: np.ndarray  # (n, rt.BTAB_LEN): quantile tables of the Beta parameters (Monte Carlo only)
    ovm: np.ndarray  # (P,) bool: overridden parameters
    ovv: np.ndarray  # (P,) their values
    outputs: list[tuple[str, int, bool, bool]]  # (name, row in out, time_varying, boolean)

    @property
    def source_file(self) -> str:
        return str(self.program.metadata.get("source_file", "<model>"))

    @property
    def src(self) -> KernelSource:
        return self.kernel.source

    def call(self, buf: Buffers, det: bool, generators: list[np.random.Generator], params_only: bool = False) -> None:
        """Run the kernel over one block (all chunks, or only the parameters' when `params_only`)."""
        from numba.core.errors import NumbaError

        try:
            kernel.run_block(self.kernel, self.layout, buf, det, self.btab, self.ovm, self.ovv, generators,
                             params_only=params_only)
        except NumbaError as exc:  # never fall back to plain Python: report the compiler's failure
            raise RunError(simple("E9999", f"internal error: numba could not run the model's kernel: {exc}",
                                  hint="PEL_JIT=0 runs the same code without numba, for debugging")) from None


# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def run(
    program: ir.Program,
    *,
    mode: str = "deterministic",
    seed: int = 42,
    steps: int | None = None,
    runs: int = 1000,
    params: dict[str, float] | None = None,
    threads: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    until_se: float | None = None,
    memory_limit: int | None = None,
    client: Any = None,
    compile_progress: cache.Progress | None = None,
) -> Result:
    """Run `program`: one path of central values (deterministic) or `runs` sampled paths (monte_carlo).

    `params` overrides parameters by name with values already in step units; `steps` overrides T_max.
    Monte Carlo: `until_se` stops once every output's relative standard error is below it (`runs` is then
    the cap); `memory_limit` bytes of collected values keep percentiles exact (beyond: the quantile
    sketch); `client` (a dask.distributed Client) runs the blocks of paths on its cluster; `compile_progress`
    hears (stage, done, total) while the kernels of a new model compile."""
    if mode not in ("deterministic", "monte_carlo"):
        raise RunError(simple("E0011", f"mode must be deterministic or monte_carlo, got {mode!r}"))
    T = program.model.time_horizon if steps is None else steps
    if isinstance(T, bool) or not isinstance(T, int) or not 0 <= T <= limits.MAX_STEPS:
        raise RunError(simple("E0011", f"steps must be an integer in 0..{limits.MAX_STEPS}, got {T!r}"))
    if mode == "monte_carlo" and (isinstance(runs, bool) or not isinstance(runs, int)
                                  or not 1 <= runs <= limits.MAX_RUNS):
        raise RunError(simple("E0011", f"runs must be an integer in 1..{limits.MAX_RUNS}, got {runs!r}"))
    convergence.check_target(until_se)
    if memory_limit is None:
        memory_limit = DEFAULT_MEMORY_LIMIT
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, int) or memory_limit < 1:
        raise RunError(simple("E0011", f"memory_limit must be a positive number of bytes, got {memory_limit!r}"))
    try:
        plan = _plan(program, T, params or {}, compile_progress)
        if mode == "deterministic":
            return _deterministic(plan, seed)
        return _monte_carlo(plan, seed, runs, threads or os.cpu_count() or 1, progress, params or {},
                            memory_limit, until_se, client)
    except MemoryError:
        raise RunError(simple("E0011", f"not enough memory for this run ({T + 1} steps"
                              f"{f', {runs} paths' if mode == 'monte_carlo' else ''})",
                              hint="run fewer steps, or fewer paths (--runs), or lower --memory-limit")) from None


def _plan(program: ir.Program, T: int, params: dict[str, float], progress: cache.Progress | None = None) -> Plan:
    kern = cache.load(program, progress)
    names = list(kern.source.params)
    ovm = np.zeros(max(len(names), 1), np.bool_)
    ovv = np.zeros(max(len(names), 1))
    scalar = {p.name for p in program.model.params if not isinstance(p.value, ir.ArrayLiteral)}
    for name, value in params.items():
        if name not in names:
            raise RunError(simple("E0600", f"cannot override {name!r}: the model has no such parameter",
                                  hint=f"parameters: {', '.join(names) or '(none)'}"))
        if name not in scalar or isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RunError(simple("E0011", f"override of {name!r} must be a number, got {value!r}"))
        if not math.isfinite(float(value)):
            raise RunError(simple("E0011", f"override of {name!r} must be finite, got {value!r}"))
        ovm[names.index(name)] = True
        ovv[names.index(name)] = float(value)
    vars_ = {v.name: v for v in program.model.vars}
    outputs = []
    for row, name in enumerate(kern.source.outputs):
        var = vars_.get(name)
        time_varying = var.time_varying if var is not None else True
        outputs.append((name, row, time_varying, var is not None and var.type.kind == "Boolean"))
    lay = kernel.layout(kern, T)
    return Plan(program, kern, lay, T, np.full((1, rt.BTAB_LEN), np.nan), ovm, ovv, outputs)


_BETA_TABLES: dict[tuple[float, float], np.ndarray] = {}


def _beta_tables(program: ir.Program, src: KernelSource) -> np.ndarray:
    """Rows of quantile tables for the model's Beta parameters with constant shapes (others get a row that
    matches no shapes, so the kernel solves their quantiles in full). Tables are kept for the process."""
    params = {p.name: p for p in program.model.params}
    out = np.full((max(1, len(src.beta_tables)), rt.BTAB_LEN), np.nan)
    wanted: dict[int, tuple[float, float]] = {}
    for r, name in enumerate(src.beta_tables):
        d = params[name].distribution
        try:
            a, b = (d.param(k) for k in ("alpha", "beta"))
        except KeyError:
            continue
        if not (isinstance(a, ir.Literal) and isinstance(b, ir.Literal)):
            continue
        key = (a.value, b.value)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0 for v in key):
            continue
        wanted[r] = (float(key[0]), float(key[1]))
    missing = sorted({key for key in wanted.values() if key not in _BETA_TABLES})
    tables = {key: np.empty(rt.BTAB_LEN) for key in missing}

    def fill(key: tuple[float, float]) -> None:
        rt.beta_table(key[0], key[1], tables[key])  # compiled nogil: tables fill in parallel

    if len(missing) > 1 and (os.cpu_count() or 1) > 1:
        with ThreadPoolExecutor(max_workers=min(len(missing), os.cpu_count() or 1)) as pool:
            list(pool.map(fill, missing))
    else:
        for key in missing:
            fill(key)
    _BETA_TABLES.update(tables)
    for r, key in wanted.items():
        out[r] = _BETA_TABLES[key]
    return out


# ---------------------------------------------------------------------------------------------
# Deterministic mode: one path of central values
# ---------------------------------------------------------------------------------------------


def _det_block(plan: Plan, params_only: bool = False) -> Buffers:
    buf = Buffers.alloc(plan.kernel, plan.layout, 1, np.zeros((max(len(plan.src.dist_columns), 1), 1)))
    plan.call(buf, True, [], params_only=params_only)
    return buf


def _deterministic(plan: Plan, seed: int) -> Result:
    buf = _det_block(plan)
    status, stop_t, where, kind = (int(x) for x in buf.st[:, 0])
    if status == rt.S_FAULT:
        raise _fault_error(plan, where, stop_t, kind)
    last = stop_t if status == rt.S_FATAL else plan.T
    src = plan.src
    warnings, violations = [], []
    for t, c in zip(*np.nonzero(buf.wlog[: len(src.constraints)].T), strict=True):
        name, severity = src.constraints[c]
        entry = {"constraint": name, "t": int(t), "severity": severity,
                 "message": format_message(src, int(c), int(t), buf.wvals[c, t])}
        (violations if severity == "fatal" else warnings).append(entry)
    message = violations[-1]["message"] if status == rt.S_FATAL and violations else None
    steps_t = np.arange(last + 1)
    variables = {}
    for name, j, time_varying, boolean in plan.outputs:
        v = buf.out[j, : last + 1, 0].copy()
        pct = {f"p{q}": v for q in PERCENTILES}
        variables[name] = VarResult(name, time_varying, boolean, steps_t, v, v, np.zeros_like(v), **pct)
        variables[name].text = plan.src.texts.get(name)
    result = _result(plan, "success" if status != rt.S_FATAL else "constraint_violation", message,
                     "deterministic", seed, warnings, violations, variables, _det_central(plan))
    result.events = [
        {"policy": src.emits[e][0], "event": src.emits[e][1], "t": int(t)}
        for t, e in zip(*np.nonzero(buf.evc[: len(src.emits)].T), strict=True)
    ]
    return result


def _fault_error(plan: Plan, site: int, t: int, kind: int) -> RunError:
    what, name, loc = plan.src.sites[site]
    span = Span.from_list(plan.source_file, list(loc)) if loc else None
    text = rt.FAULT_TEXT.get(kind, "runtime fault")
    return RunError(simple(rt.FAULT_CODES.get(kind, "E0800"), f"{text} while computing {what} `{name}` at t={t}",
                           span, hint="guard the expression (e.g. `if x > 0 then ... else ...`)"))


def format_value(value: float, kind: str) -> str:
    """A number in a message: integers plainly, others with two decimals (four significant digits if small)."""
    if not math.isfinite(value):
        return "?"
    if kind == "b":
        return "true" if value != 0.0 else "false"
    if value == math.floor(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.2f}" if abs(value) >= 1.0 else f"{value:.4g}"


def format_message(src: KernelSource, c: int, t: int, values: np.ndarray) -> str:
    """Interpolate constraint c's message template with the values captured at its violation."""
    parts = src.messages[c]
    if not parts:
        return f"constraint '{src.constraints[c][0]}' violated at t={t}"
    out, k = [], 0
    for text, kind in parts:
        if kind == "text":
            out.append(text)
        else:
            out.append(format_value(float(values[k]), kind))
            k += 1
    return "".join(out)


def _result(plan: Plan, status: str, message: str | None, mode: str, seed: int, warnings: list, violations: list,
            variables: dict, central: np.ndarray) -> Result:
    model = plan.program.model
    return Result(
        status=status, message=message, model_name=model.name,
        model_hash=str(plan.program.metadata.get("model_hash", "")), pel_version=__version__, mode=mode,
        seed=seed, steps=plan.T, time_unit=model.time_unit, warnings=warnings, violations=violations,
        assumptions=_assumptions(plan, central), variables=variables,
        model_version=plan.program.metadata.get("model_version"),
    )


def _assumptions(plan: Plan, central: np.ndarray) -> list[dict]:
    """The run's assumption register: each parameter's value in this run (an override, else its central value),
    in its declared unit."""
    model = plan.program.model
    out = []
    for k, p in enumerate(model.params):
        value: object
        if isinstance(p.value, ir.ArrayLiteral):
            value = [json_float(const_value(x, plan.program)) for x in p.value.elements]
        elif isinstance(p.value, ir.Literal) and isinstance(p.value.value, str):
            value = p.value.value
        else:
            value = json_float(plan.ovv[k] if plan.ovm[k] else central[k])
        prov = p.provenance
        out.append({"name": p.name, "value": param_value(p, value, model), "unit": p.type.unit,
                    "source": prov.source, "method": prov.method, "confidence": json_float(prov.confidence)})
    return out


# ---------------------------------------------------------------------------------------------
# Monte Carlo mode: fixed blocks of paths, merged in block order
# ---------------------------------------------------------------------------------------------


@dataclass
class BlockSummary:
    """What one block contributes to the final statistics (besides the collected values)."""

    moments: Moments | None  # None once merged into the run's moments
    n_fault: dict[int, int]
    first_fault: tuple[int, int, int, int] | None  # (path, site, t, kind)
    n_fatal: int
    c_count: np.ndarray  # (C,) paths violating each constraint
    c_tmin: np.ndarray
    c_tmax: np.ndarray
    c_tsum: np.ndarray
    c_first: list[tuple[int, int, np.ndarray] | None]  # per constraint: (path, t, message values)
    # the violated constraints' rows and, per row, the paths whose first violation is at each t ((k, T+1) counts);
    # None once added into the run's totals
    c_steps: tuple[np.ndarray, np.ndarray] | None = None


class BlockPool:
    """Full-size block buffers reused across kernel calls: fresh buffers per block cost their page faults again
    every time (measured comparable to the kernel itself). `out` is given per block (a collector's slice, a
    value buffer), so only the kernel's own arrays are pooled."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.free: queue.SimpleQueue[Buffers] = queue.SimpleQueue()

    def take(self, n: int, zmat: np.ndarray, out: np.ndarray) -> Buffers:
        if n == sampling.BLOCK_SIZE:
            try:
                buf = self.free.get_nowait()
            except queue.Empty:
                pass
            else:
                buf.reset()
                buf.zmat, buf.out = zmat, out
                return buf
        return Buffers.alloc(self.plan.kernel, self.plan.layout, n, zmat, out)

    def give(self, buf: Buffers) -> None:
        if buf.st.shape[1] == sampling.BLOCK_SIZE:
            buf.out = buf.zmat = None  # type: ignore[assignment] - not kept alive by the pool
            self.free.put(buf)


def _run_block(plan: Plan, seed: int, runs: int, b: int, cop: sampling.Copula | None, out: np.ndarray,
               pool: BlockPool) -> BlockSummary:
    """Run block b into `out` (outputs, T+1, n), which ends masked: faulted paths and steps after a fatal stop
    are NaN."""
    src = plan.src
    start = b * sampling.BLOCK_SIZE
    n = min(sampling.BLOCK_SIZE, runs - start)
    zmat = np.ascontiguousarray(sampling.param_normals(seed, b, n, src.dist_columns, cop).T)
    if zmat.shape[0] == 0:
        zmat = np.zeros((1, n))
    buf = pool.take(n, zmat, out)
    try:
        plan.call(buf, False, sampling.inline_generators(seed, src.streams, b))
        return _block_summary(plan, start, buf)
    finally:
        pool.give(buf)


def _block_summary(plan: Plan, start: int, buf: Buffers) -> BlockSummary:
    src = plan.src
    st = buf.st
    status = st[0]
    moments = Moments.of_kernel_block(buf.out, st)
    n_fault: dict[int, int] = {}
    first_fault = None
    fault = status == rt.S_FAULT
    if fault.any():
        kinds, counts = np.unique(st[3, fault], return_counts=True)
        n_fault = {int(k): int(v) for k, v in zip(kinds, counts, strict=True)}
        p = int(np.argmax(fault))
        first_fault = (start + p, int(st[2, p]), int(st[1, p]), int(st[3, p]))
    C = len(src.constraints)
    big = np.iinfo(np.int64).max
    cfirst = buf.cfirst[:C]
    hit = cfirst >= 0
    hit_any = hit.any(axis=1)
    c_first: list[tuple[int, int, np.ndarray] | None] = [None] * C
    if hit_any.any():
        first_p = hit.argmax(axis=1)
        for c in np.flatnonzero(hit_any):
            p = int(first_p[c])
            c_first[c] = (start + p, int(cfirst[c, p]), buf.cmsg[c, :, p].copy())
        c_tmin = np.where(hit, cfirst, big).min(axis=1, initial=big)
        c_tmax = np.where(hit, cfirst, -1).max(axis=1, initial=-1)
        c_tsum = np.where(hit, cfirst, 0).sum(axis=1)
        rows = np.flatnonzero(hit_any)
        steps = np.stack([np.bincount(cfirst[c, hit[c]], minlength=plan.T + 1)[: plan.T + 1] for c in rows])
        c_steps = (rows, steps)
    else:  # no constraint violated in this block: the same values without the passes
        c_tmin = np.full(C, big, np.int64)
        c_tmax = np.full(C, -1, np.int64)
        c_tsum = np.zeros(C, np.int64)
        c_steps = None
    return BlockSummary(
        moments=moments,
        n_fault=n_fault,
        first_fault=first_fault,
        n_fatal=int(np.count_nonzero(status == rt.S_FATAL)),
        c_count=np.count_nonzero(hit, axis=1) if C else np.zeros(0, np.int64),
        c_tmin=c_tmin,
        c_tmax=c_tmax,
        c_tsum=c_tsum,
        c_first=c_first,
        c_steps=c_steps,
    )


class ValuePool:
    """Reused (outputs, T+1, BLOCK_SIZE) buffers for the values of one block on their way to the sketch."""

    def __init__(self, n_vars: int, n_steps: int) -> None:
        self.shape = (n_vars, n_steps)
        self.free: queue.SimpleQueue[np.ndarray] = queue.SimpleQueue()

    def take(self, n: int) -> np.ndarray:
        if n != sampling.BLOCK_SIZE:
            return np.empty((*self.shape, n))
        try:
            return self.free.get_nowait()
        except queue.Empty:
            return np.empty((*self.shape, n))

    def give(self, buf: np.ndarray) -> None:
        if buf.shape[2] == sampling.BLOCK_SIZE:
            self.free.put(buf)


BlockOutput = tuple[BlockSummary, "np.ndarray | sketch.Summary | None"]


def _block_output(plan: Plan, seed: int, runs: int, b: int, cop: sampling.Copula | None, exact: bool,
                  pool: BlockPool, values: ValuePool | None) -> BlockOutput:
    """One block on its own values buffer: its summary, and its values (exact: a fresh array) or their level-0
    sketch (the buffer goes back to `values`)."""
    n = min(sampling.BLOCK_SIZE, runs - b * sampling.BLOCK_SIZE)
    V = len(plan.outputs)
    buf = np.empty((V, plan.T + 1, n)) if exact or values is None else values.take(n)
    summary = _run_block(plan, seed, runs, b, cop, buf, pool)
    if exact:
        return summary, buf
    try:
        return summary, sketch.compact_block(buf.reshape(V * (plan.T + 1), n), inplace=True)
    finally:
        if values is not None:
            values.give(buf)


_WORKER_PLANS: dict[tuple, tuple[Plan, sampling.Copula | None, BlockPool]] = {}
_WORKER_LOCK = threading.Lock()


def dask_blocks(payload: dict, start: int, stop: int) -> list[BlockOutput]:
    """A Dask task: blocks start..stop-1 of the run described by `payload` (IR as msgpack bytes + options)."""
    from pel.backend import distributed

    key = (hashlib.sha256(payload["ir"]).hexdigest(), payload["T"], tuple(sorted(payload["params"].items())))
    with _WORKER_LOCK:
        if key not in _WORKER_PLANS:
            plan = _plan(distributed.program_of(payload["ir"]), payload["T"], payload["params"])
            plan.btab = _beta_tables(plan.program, plan.src)
            cop = sampling.copula(plan.program.model, plan.src.dist_columns, [])
            _WORKER_PLANS[key] = (plan, cop, BlockPool(plan))
        plan, cop, pool = _WORKER_PLANS[key]
    return [_block_output(plan, payload["seed"], payload["runs"], b, cop, payload["exact"], pool, None)
            for b in range(start, stop)]


def _local_stream(pool: ThreadPoolExecutor | None, work: Callable[[int], BlockOutput], n_blocks: int,
                  window: int) -> Iterator[tuple[int, BlockOutput]]:
    """(block, work(block)) in block order with at most `window` blocks submitted ahead; closing the iterator
    (an exception in the consumer, e.g. from the progress callback, or --until-se met) cancels the blocks
    not started and waits for the running ones, so a cancelled run stops within a block or two."""
    if pool is None:
        for b in range(n_blocks):
            yield b, work(b)
        return
    ahead: deque[Future[BlockOutput]] = deque()
    nxt = 0
    try:
        while nxt < n_blocks or ahead:
            while nxt < n_blocks and len(ahead) < window:
                ahead.append(pool.submit(work, nxt))
                nxt += 1
            b = nxt - len(ahead)
            yield b, ahead.popleft().result()
    finally:
        for fut in ahead:
            fut.cancel()
        wait(list(ahead))  # blocks already running finish before their buffers are read or freed


def _monte_carlo(plan: Plan, seed: int, runs: int, threads: int, progress: Callable[[int, int], None] | None,
                 params: dict[str, float], memory_limit: int, until_se: float | None, client: Any) -> Result:
    notes: list[str] = []
    plan.btab = _beta_tables(plan.program, plan.src)
    cop = sampling.copula(plan.program.model, plan.src.dist_columns, notes)
    V, T1 = len(plan.outputs), plan.T + 1
    exact = V * T1 * runs * 8 <= memory_limit
    collector = Collector(V, T1, runs) if exact else None  # pages are touched only as blocks arrive
    rule = convergence.StopRule(until_se, runs, names=[o[0] for o in plan.outputs])
    n_blocks = -(-runs // sampling.BLOCK_SIZE)
    parallel = client is None and threads > 1 and n_blocks > 1 and runs * T1 >= PARALLEL_THRESHOLD
    blocks = BlockPool(plan)
    value_pool = None if exact else ValuePool(V, T1)
    pool = ThreadPoolExecutor(max_workers=threads) if parallel else None
    # the sketch's merges run on the pool too (in block order, so the bits do not depend on it)
    sketcher = None if exact else sketch.QuantileSketch(V * T1, submit=None if pool is None else pool.submit)

    def work(b: int) -> BlockOutput:
        if collector is not None:  # local exact run: the kernel writes straight into the collector
            start = b * sampling.BLOCK_SIZE
            out = collector.values[:, :, start:min(start + sampling.BLOCK_SIZE, runs)]
            return _run_block(plan, seed, runs, b, cop, out, blocks), None
        return _block_output(plan, seed, runs, b, cop, False, blocks, value_pool)

    stream: Iterator[tuple[int, BlockOutput]]
    if client is not None:
        from pel.backend import distributed
        from pel.ir import serialize

        payload = {"ir": serialize.dumps_msgpack(plan.program), "T": plan.T, "params": dict(params),
                   "seed": seed, "runs": runs, "exact": exact}
        workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        chunk = max(1, min(16, n_blocks // (8 * workers)))
        stream = distributed.map_blocks(client, dask_blocks, payload, n_blocks, chunk=chunk)
    else:
        # blocks in flight: two per thread, fewer when a block's values are large (a sketch of a big model)
        block_bytes = V * T1 * sampling.BLOCK_SIZE * 8
        window = 2 * threads if exact else max(1, min(2 * threads, memory_limit // max(block_bytes, 1)))
        stream = _local_stream(pool, work, n_blocks, window)
    summaries: list[BlockSummary] = []
    moments: Moments | None = None
    first_steps = np.zeros((len(plan.src.constraints), T1), np.int64)  # paths first violating each constraint at t
    done = 0
    stopped_early = False
    try:
        try:
            for b, (summary, extra) in stream:
                start = b * sampling.BLOCK_SIZE
                done = min(start + sampling.BLOCK_SIZE, runs)
                if collector is not None and extra is not None:  # exact values from a Dask worker
                    collector.values[:, :, start:done] = extra
                elif sketcher is not None:
                    sketcher.add(extra)  # block order: the same bits for any thread count or cluster
                moments = summary.moments if moments is None else moments.merge(summary.moments)
                summary.moments = None  # merged: keep only the block's small logs
                if summary.c_steps is not None:
                    first_steps[summary.c_steps[0]] += summary.c_steps[1]
                    summary.c_steps = None
                summaries.append(summary)
                if progress is not None:
                    progress(done, runs)
                if until_se is not None and done < runs and rule.converged(done, moments.mean, _se(moments)):
                    stopped_early = True
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        assert moments is not None
        if collector is not None:
            if done < runs:
                collector.values = collector.values[:, :, :done]
            pct = _percentiles(collector, moments.n, pool, threads)
        else:
            assert sketcher is not None
            pct = sketcher.quantiles(PERCENTILES, parts=2 * threads).reshape(V, T1, len(PERCENTILES))
        hists = _horizon_histograms(plan, pct, collector, sketcher)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    variables = _mc_variables(plan, moments, pct)
    result = _result(plan, "success", None, "monte_carlo", seed, [], [], variables, _det_central(plan))
    _mc_summaries(plan, result, summaries, done)
    result.percentiles = {"method": "exact" if exact else "sketch",
                          "rank_error_bound": 0.0 if sketcher is None else sketcher.rank_error_bound()}
    if until_se is not None:
        result.convergence = rule.report(done, stopped_early, moments.mean, _se(moments))
    result.notes = notes
    result.horizon_histograms = hists
    result.first_violations = {name: first_steps[c] for c, (name, _) in enumerate(plan.src.constraints)}
    return result


def _horizon_histograms(plan: Plan, pct: np.ndarray, collector: Collector | None,
                        sketcher: sketch.QuantileSketch | None) -> dict[str, histogram.Histogram]:
    """Each numeric output's histogram at the horizon: of the collected values (exact), else of the sketch."""
    T = plan.T
    p5, p95 = PERCENTILES.index(5), PERCENTILES.index(95)
    out = {}
    for k, (name, _, _, boolean) in enumerate(plan.outputs):
        if boolean or name in plan.src.texts:
            continue
        lo, hi = float(pct[k, T, p5]), float(pct[k, T, p95])
        if collector is not None:
            h = histogram.of_values(collector.values[k, T], lo, hi)
        else:
            assert sketcher is not None
            h = histogram.of_sketch(sketcher.summary(), k * (T + 1) + T, lo, hi)
        if h is not None:
            out[name] = h
    return out


def _se(moments: Moments) -> np.ndarray:
    return convergence.standard_error(moments.n, moments.m2)


def _percentiles(collector: Collector, valid: np.ndarray, pool: ThreadPoolExecutor | None, threads: int) -> np.ndarray:
    """Percentiles per (output, t): short rows sorted many at a time, long rows by selection, row by row. numpy
    releases the GIL in both, so a few runs of consecutive cells go to the pool (one task per cell would cost
    more in hand-offs than the selections of a small run)."""
    n_vars, n_steps = valid.shape
    out = np.empty((n_vars, n_steps, len(PERCENTILES)))
    values = collector.values
    sort = values.shape[2] <= SORT_MAX
    parts = 1 if pool is None else max(1, min(n_steps, 2 * threads))
    jobs = [(v, n_steps * k // parts, n_steps * (k + 1) // parts) for v in range(n_vars) for k in range(parts)]

    def some(job: tuple[int, int, int]) -> None:
        v, t0, t1 = job
        if sort:
            sorted_rows_percentiles(values[v, t0:t1], valid[v, t0:t1], out[v, t0:t1])
            return
        for t in range(t0, t1):
            out[v, t] = collector.percentiles(v, t, int(valid[v, t]))

    if pool is None:
        for job in jobs:
            some(job)
    else:
        for done in [pool.submit(some, job) for job in jobs]:
            done.result()
    return out


def _mc_variables(plan: Plan, moments: Moments, pct: np.ndarray) -> dict[str, VarResult]:
    std = moments.std()
    se = _se(moments)
    variables = {}
    t = np.arange(plan.T + 1)
    for k, (name, _, time_varying, boolean) in enumerate(plan.outputs):
        mean = np.where(moments.n[k] > 0, moments.mean[k], np.nan)
        qs = {f"p{q}": pct[k, :, m] for m, q in enumerate(PERCENTILES)}
        variables[name] = VarResult(name, time_varying, boolean, t, mean, mean, std[k], **qs, n=moments.n[k],
                                    se=se[k])
        variables[name].text = plan.src.texts.get(name)
    return variables


def _det_central(plan: Plan) -> np.ndarray:
    """Central parameter values (the parameters of a one-path deterministic block; NaN where one faults)."""
    return _det_block(plan, params_only=True).P[:, 0]


def _mc_summaries(plan: Plan, result: Result, summaries: list[BlockSummary], runs: int) -> None:
    src = plan.src
    n_fault: dict[int, int] = {}
    for s in summaries:
        for k, v in s.n_fault.items():
            n_fault[k] = n_fault.get(k, 0) + v
    faults = sum(n_fault.values())
    fatal = sum(s.n_fatal for s in summaries)
    first = next((s.first_fault for s in summaries if s.first_fault is not None), None)
    result.runs = runs
    completed = runs - faults - fatal
    result.success_rate = completed / runs
    if completed < runs:
        result.status = "failed" if completed == 0 else "partial"
        why = [f"{fatal} stopped by a fatal constraint"] if fatal else []
        why += [f"{n} failed: {rt.FAULT_NAMES.get(k, str(k))}" for k, n in sorted(n_fault.items())]
        result.message = f"{runs - completed} of {runs} paths did not complete ({', '.join(why)})"
    first_info = None
    if first is not None:
        first_info = {"path": first[0], "t": first[2], "code": rt.FAULT_CODES.get(first[3], "E0800"),
                      "message": _fault_error(plan, first[1], first[2], first[3]).diagnostics[0].message}
    result.failed_paths = {
        "count": faults,
        "by_kind": {rt.FAULT_NAMES.get(k, str(k)): n_fault[k] for k in sorted(n_fault)},
        "first": first_info,
    }
    constraints = {}
    for c, (name, severity) in enumerate(src.constraints):
        count = int(sum(int(s.c_count[c]) for s in summaries))
        first_c = next((s.c_first[c] for s in summaries if s.c_first[c] is not None), None)
        entry = {
            "severity": severity,
            "violations": count,
            "rate": count / runs,
            "first_violation_t": None if count == 0 else {
                "min": int(min(int(s.c_tmin[c]) for s in summaries)),
                "max": int(max(int(s.c_tmax[c]) for s in summaries)),
                "mean": sum(int(s.c_tsum[c]) for s in summaries) / count,
            },
            "message": None if first_c is None else format_message(src, c, first_c[1], first_c[2]),
        }
        constraints[name] = entry
        if count:
            log = {"constraint": name, "severity": severity, "count": count, "rate": count / runs,
                   "first_violation_t": entry["first_violation_t"], "message": entry["message"]}
            (result.violations if severity == "fatal" else result.warnings).append(log)
    result.constraints = constraints
