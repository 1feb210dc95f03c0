"""Model evaluations at designed parameter points: blocks of paths run through the compiled kernels, each path's
distribution parameters taken from given standard-normal scores instead of the random sampler.

A path's parameter j is the inverse CDF of its declared distribution at Φ(z[i, j]): the kernels' own sampling
(`rt.from_z` or its table), so a score row is a point of the joint distribution with independent margins. The
per-step draws of stochastic expressions use the same generators as a Monte Carlo run of the same seed (block b of
the rows gets block b's streams): two designs of the same length share them row for row (common random numbers).
Scores drawn by `sampling.param_normals` reproduce a Monte Carlo run path for path."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from pel.backend import engine, sampling
from pel.backend.stats import Moments
from pel.diagnostics import RunError, simple
from pel.ir import nodes as ir


@dataclass
class Evaluation:
    """What a design's rows gave: the target values (rows, targets; NaN where a path had no value at the target
    step: a fault, or a fatal stop before it), the parameters' values per row (rows, params) and each row's
    status (0 ran to the end, rt.S_FATAL stopped, rt.S_FAULT faulted)."""

    targets: np.ndarray
    params: np.ndarray
    param_names: tuple[str, ...]
    status: np.ndarray


class Design:
    """A compiled model ready to evaluate designs: its plan for `steps`, the targets (output, step) to keep, the
    score columns (`columns`: the distribution parameters, in the kernels' order)."""

    def __init__(self, program: ir.Program, targets: Sequence[tuple[str, int]], *, steps: int | None = None,
                 params: dict[str, float] | None = None) -> None:
        T = program.model.time_horizon if steps is None else steps
        self.params = dict(params or {})
        self.target_names = [(name, int(t)) for name, t in targets]
        self.plan = engine._plan(program, T, self.params)
        self.pool = engine.BlockPool(self.plan)
        self.plan.btab = engine._beta_tables(program, self.plan.src)
        rows = {name: row for name, row, _, _ in self.plan.outputs}
        self.targets: list[tuple[int, int]] = []
        for name, t in targets:
            if name not in rows:
                raise RunError(simple("E0600", f"{name!r} is not an output of the model",
                                      hint=f"outputs: {', '.join(rows) or '(none)'}"))
            if not 0 <= t <= T:
                raise RunError(simple("E0011", f"step {t} of {name} is outside the run's steps 0..{T}"))
            self.targets.append((rows[name], t))
        self.columns: tuple[str, ...] = tuple(self.plan.src.dist_columns)
        self.param_names: tuple[str, ...] = tuple(self.plan.src.params)

    def block(self, z: np.ndarray, seed: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows `z` as block b (its per-step draws): (targets, parameter values, status) of its paths."""
        m = z.shape[0]
        zmat = np.ascontiguousarray(z.T) if len(self.columns) else np.zeros((1, m))
        out = np.empty((len(self.plan.outputs), self.plan.T + 1, m))
        buf = self.pool.take(m, zmat, out)
        try:
            self.plan.call(buf, False, sampling.inline_generators(seed, self.plan.src.streams, b))
            Moments.of_kernel_block(out, buf.st)  # masks the values after a path's stop (NaN)
            targets = np.stack([out[row, t] for row, t in self.targets], axis=1) if self.targets \
                else np.empty((m, 0))
            return targets, buf.P[: len(self.param_names)].T.copy(), buf.st[0].copy()
        finally:
            self.pool.give(buf)

    def evaluate(self, z: np.ndarray, seed: int, *, threads: int = 1,
                 progress: Callable[[int, int], None] | None = None, client: Any = None) -> Evaluation:
        """Run one path per row of `z` (rows, columns): blocks of `sampling.BLOCK_SIZE` rows, on `threads`
        threads, or as tasks on a dask.distributed `client`; the result does not depend on either."""
        z = np.asarray(z, dtype=np.float64)
        if z.ndim != 2 or z.shape[1] != len(self.columns):
            raise RunError(simple("E0011", f"a design needs {len(self.columns)} score columns, got shape {z.shape}"))
        n = z.shape[0]
        n_blocks = -(-n // sampling.BLOCK_SIZE)
        targets = np.full((n, len(self.targets)), np.nan)
        values = np.full((n, len(self.param_names)), np.nan)
        status = np.zeros(n, np.int64)

        def place(b: int, got: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
            start = b * sampling.BLOCK_SIZE
            stop = min(start + sampling.BLOCK_SIZE, n)
            targets[start:stop], values[start:stop], status[start:stop] = got
            if progress is not None:
                progress(stop, n)

        def work(b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            start = b * sampling.BLOCK_SIZE
            return self.block(z[start:start + sampling.BLOCK_SIZE], seed, b)

        if client is not None:
            from pel.backend import distributed
            from pel.ir import serialize

            payload = {"ir": serialize.dumps_msgpack(self.plan.program), "T": self.plan.T,
                       "params": dict(self.params), "targets": list(self.target_names), "seed": seed, "z": z}
            workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
            chunk = max(1, min(8, n_blocks // (4 * workers)))
            for b, got in distributed.map_blocks(client, dask_design_blocks, payload, n_blocks, chunk=chunk):
                place(b, got)
        elif threads > 1 and n_blocks > 1:
            with ThreadPoolExecutor(max_workers=threads) as ex:
                futures = [ex.submit(work, b) for b in range(n_blocks)]
                for b, f in enumerate(futures):
                    place(b, f.result())
        else:
            for b in range(n_blocks):
                place(b, work(b))
        return Evaluation(targets, values, self.param_names, status)

    def random_scores(self, seed: int, n: int) -> np.ndarray:
        """The scores a Monte Carlo run of `seed` gives its first `n` paths (declared correlations applied)."""
        notes: list[str] = []
        cop = sampling.copula(self.plan.program.model, self.plan.src.dist_columns, notes)
        parts = [sampling.param_normals(seed, b, min(sampling.BLOCK_SIZE, n - b * sampling.BLOCK_SIZE),
                                        self.plan.src.dist_columns, cop)
                 for b in range(-(-n // sampling.BLOCK_SIZE))]
        return np.concatenate(parts) if parts else np.empty((0, len(self.columns)))


_WORKER_DESIGNS: dict[tuple, Design] = {}
_WORKER_LOCK = threading.Lock()


def dask_design_blocks(payload: dict, start: int, stop: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A Dask task: blocks start..stop-1 of a design (`payload`: IR as msgpack bytes, steps, overrides, targets,
    seed and the score rows); the Design is built once per worker process."""
    from pel.backend import distributed

    key = (hashlib.sha256(payload["ir"]).hexdigest(), payload["T"], tuple(sorted(payload["params"].items())),
           tuple(map(tuple, payload["targets"])))
    with _WORKER_LOCK:
        if key not in _WORKER_DESIGNS:
            program = distributed.program_of(payload["ir"])
            _WORKER_DESIGNS[key] = Design(program, payload["targets"], steps=payload["T"], params=payload["params"])
        design = _WORKER_DESIGNS[key]
    z = payload["z"]
    return [design.block(z[b * sampling.BLOCK_SIZE:(b + 1) * sampling.BLOCK_SIZE], payload["seed"], b)
            for b in range(start, stop)]
