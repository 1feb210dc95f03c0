"""Dask integration: run blocks of Monte Carlo paths as dask.distributed tasks and hand them back in block order.

The client ships each task the IR as msgpack bytes plus the run options (a few KB); a worker process
decodes it and loads the model's kernel once (pel.backend.cache keeps it per process, numba's on-disk cache
keeps it per machine). Each task computes a fixed range of blocks, which depends only on the seed and the
block indices, so a task lost with its worker is simply run again elsewhere by the Dask scheduler with the
same result; the client merges the block results strictly in block order, so the results file is the same
bytes as a local run with the same seed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pel.diagnostics import Diagnostic, PelError, RunError, simple

DEFAULT_WINDOW_PER_WORKER = 4  # tasks in flight per worker (bounds client memory; lets --until-se stop early)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise RunError(simple("E0011", "running on Dask needs the dask.distributed package, which is not installed",
                              hint="pip install 'pel-lang[dask]' (or pip install 'dask[distributed]')")) from None
    return distributed


@dataclass
class Connection:
    """A Dask client, and the local cluster PEL started for it (None when connecting to a scheduler)."""

    client: Any
    cluster: Any = None

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(spec: str) -> Connection:
    """`local:N` starts a LocalCluster of N spawned worker processes (one thread each, loopback only);
    `tcp://HOST:PORT` (or any scheduler address Dask accepts) connects to a running scheduler."""
    distributed = _import_distributed()
    if spec.startswith("local:"):
        text = spec[len("local:"):]
        if not text.isdigit() or not 1 <= int(text) <= 1024:
            raise RunError(simple("E0011", f"--dask local:N needs a worker count N in 1..1024, got {spec!r}"))
        cluster = distributed.LocalCluster(n_workers=int(text), threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address="127.0.0.1:0")
        return Connection(distributed.Client(cluster), cluster)
    if "://" not in spec:
        raise RunError(simple("E0011", f"--dask expects tcp://HOST:PORT or local:N, got {spec!r}"))
    try:
        client = distributed.Client(spec, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise RunError(simple("E0011", f"cannot connect to the Dask scheduler at {spec}: {exc}",
                              hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`")) from None
    return Connection(client)


# ---------------------------------------------------------------------------------------------
# Worker side
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskError:
    """A PEL error raised in a task, carried back as data (PelError does not survive pickling as is)."""

    kind: str
    diagnostics: list[Diagnostic]

    def raise_(self) -> None:
        from pel import diagnostics as d

        cls = getattr(d, self.kind, RunError)
        if not (isinstance(cls, type) and issubclass(cls, PelError)):
            cls = RunError
        raise cls(self.diagnostics)


_PROGRAMS: dict[str, Any] = {}
_PROGRAMS_LOCK = threading.Lock()


def program_of(ir_bytes: bytes) -> Any:
    """The IR program of msgpack bytes, decoded once per worker process."""
    from pel.ir import serialize

    key = hashlib.sha256(ir_bytes).hexdigest()
    with _PROGRAMS_LOCK:
        if key not in _PROGRAMS:
            _PROGRAMS[key] = serialize.loads_msgpack(ir_bytes, file="<dask>")
        return _PROGRAMS[key]


def run_task(fn: Callable[[Any, int, int], list], payload: Any, start: int, stop: int) -> list | TaskError:
    """What a Dask task runs: fn(payload, start, stop) -> one result per block start..stop-1."""
    try:
        return fn(payload, start, stop)
    except PelError as exc:
        return TaskError(type(exc).__name__, list(exc.diagnostics))


# ---------------------------------------------------------------------------------------------
# Client side
# ---------------------------------------------------------------------------------------------


def map_blocks(client: Any, fn: Callable[[Any, int, int], list], payload: Any, n_blocks: int, *,
               chunk: int = 1, window: int | None = None) -> Iterator[tuple[int, Any]]:
    """Yield (block, fn's result for it) for blocks 0..n_blocks-1, in block order, computed as Dask tasks of
    `chunk` consecutive blocks with at most `window` tasks in flight. Closing the iterator early (e.g. once
    --until-se is met) cancels the tasks still pending."""
    distributed = _import_distributed()
    if chunk < 1:
        raise ValueError("chunk must be positive")
    if window is None:
        workers = max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))
        window = DEFAULT_WINDOW_PER_WORKER * workers
    starts = list(range(0, n_blocks, chunk))
    pending: dict[Any, int] = {}
    done: dict[int, list] = {}
    seq = distributed.as_completed()
    nxt = 0  # next task to submit
    want = 0  # next task whose results are due
    try:
        while want < len(starts):
            while nxt < len(starts) and len(pending) < window:
                s = starts[nxt]
                fut = client.submit(run_task, fn, payload, s, min(s + chunk, n_blocks), pure=False)
                pending[fut] = nxt
                seq.add(fut)
                nxt += 1
            while want not in done:
                fut = next(seq)
                k = pending.pop(fut)
                value = fut.result()
                if isinstance(value, TaskError):
                    value.raise_()
                done[k] = value
                fut.release()
            for j, value in enumerate(done.pop(want)):
                yield starts[want] + j, value
            want += 1
    finally:
        for fut in pending:
            fut.cancel()
