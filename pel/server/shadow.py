"""Shadow runs: a released version run after the active one has answered, on the same inputs, and compared.

The shadow gets the request's overrides and the settings the active run used (mode, seed, steps, runs), so
with PEL's per-parameter random streams the two runs share their random numbers and a difference between them
is a difference between the models. Shadows share the run slots and queue with client runs, bounded: at most
`limit` are admitted at a time (running or queued), and a shadow beyond them, or one that finds the queue full or
its version still compiling, is skipped (and counted so). The client's answer never waits for its shadow."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from pel.diagnostics import PelError
from pel.release.common import DEFAULT_ATOL
from pel.release.diff import largest_relative
from pel.server import logs
from pel.server.runner import Busy, DeadlineExceeded, Runner

if TYPE_CHECKING:
    from pel.backend.results import Result
    from pel.model import RunSettings
    from pel.server.metrics import Metrics
    from pel.server.registry import Entry

log = logging.getLogger("pel.server")


def divergence(active: Result, shadow: Result, atol: float = DEFAULT_ATOL) -> tuple[float, str, int] | None:
    """The largest relative difference |shadow - active| / |active| over the numeric outputs both runs have and
    their common steps (Monte Carlo: of the means), as `pel diff` measures it (differences within `atol` are
    none), with the output and step where it occurs; None when the runs have no numeric output in common."""
    best: tuple[float, str, int] | None = None
    for name, a in active.variables.items():
        b = shadow.variables.get(name)
        if b is None or a.text is not None or b.text is not None or not len(a.t) or not len(b.t):
            continue
        rel, k = largest_relative(np.asarray(a.value, float), np.asarray(b.value, float), atol)
        if k is None:
            continue
        if best is None or rel > best[0]:
            best = (rel, name, int(a.t[k]))
    return best


class Shadows:
    """Runs shadows in the background, at most `limit` at a time, on the server's runner."""

    def __init__(self, runner: Runner, metrics: Metrics, timeout_s: float, limit: int) -> None:
        self.runner, self.metrics, self.timeout_s, self.limit = runner, metrics, timeout_s, max(1, limit)
        self.running = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, shadow: Entry, active: Entry, result: Result, params: dict[str, Any], used: RunSettings,
              request_id: str, scenario: str | None = None) -> None:
        """Run `shadow` on the active request's inputs (its overrides and scenario) after the answer is sent (or
        count it skipped when `limit` shadows are running already)."""
        if self.running >= self.limit:
            self._skipped(shadow, active, used, request_id)
            return
        self.running += 1
        task = asyncio.get_running_loop().create_task(self._run(shadow, active, result, params, used, request_id,
                                                                 scenario))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the shadows under way."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Stop the shadows under way (the server is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _skipped(self, shadow: Entry, active: Entry, used: RunSettings, request_id: str) -> None:
        self.metrics.shadowed(shadow.name, shadow.version, "skipped")
        logs.log_shadow(model=shadow.name, version=shadow.version, active=active.version, mode=used.mode,
                        seed=used.seed, outcome="skipped", request_id=request_id)

    async def _run(self, shadow: Entry, active: Entry, result: Result, params: dict[str, Any], used: RunSettings,
                   request_id: str, scenario: str | None = None) -> None:
        model = shadow.model
        assert model is not None
        monte_carlo = used.mode == "monte_carlo"

        def job(progress: Any) -> Result:
            return model.run(used.mode, seed=used.seed, steps=used.steps, runs=used.runs if monte_carlo else None,
                             params=dict(params), threads=1, progress=progress, scenario=scenario)

        start = time.monotonic()
        code: str | None = None
        try:
            await asyncio.sleep(0)  # let the active answer go out first
            compiled = shadow.compiled
            if compiled is not None and not compiled.done():
                raise Busy()  # still compiling: the shadow would hold a slot waiting for it
            other = await self.runner.run(job, self.timeout_s)
        except Busy:
            self._skipped(shadow, active, used, request_id)
            return
        except DeadlineExceeded:
            code = "timeout"
        except PelError as exc:
            code = exc.diagnostics[0].code if exc.diagnostics else "E9999"
        except Exception as exc:  # a bug must not take the server down: counted and logged
            log.exception("pel serve: the shadow run of %s@%s failed", shadow.name, shadow.version)
            code = f"E9999 {type(exc).__name__}"
        finally:
            self.running -= 1
        elapsed = time.monotonic() - start
        found = None if code is not None else divergence(result, other)
        if found is None:
            self.metrics.shadowed(shadow.name, shadow.version, "failed")
            logs.log_shadow(model=shadow.name, version=shadow.version, active=active.version, mode=used.mode,
                            seed=used.seed, outcome="failed", duration_sec=elapsed,
                            code=code or "no_common_output", request_id=request_id)
            return
        rel, output, t = found
        self.metrics.shadowed(shadow.name, shadow.version, "compared", rel)
        logs.log_shadow(model=shadow.name, version=shadow.version, active=active.version, mode=used.mode,
                        seed=used.seed, outcome="compared", divergence=rel if math.isfinite(rel) else None,
                        output=output, t=t, duration_sec=elapsed, request_id=request_id)
