"""`pel.Model`: a compiled program plus `run()`, the object the library API hands to notebooks and pipelines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pel.diagnostics import Diagnostic, RunError, simple
from pel.ir import nodes as ir

MODES = ("deterministic", "monte_carlo")


class Model:
    """A compiled PEL model, ready to run any number of times (kernels are compiled once and cached)."""

    def __init__(self, program: ir.Program, warnings: list[Diagnostic] | None = None) -> None:
        self.program = program
        self.warnings = list(warnings or [])

    @property
    def name(self) -> str:
        return self.program.model.name

    @property
    def hash(self) -> str:
        return str(self.program.metadata.get("model_hash", ""))

    @property
    def parameters(self) -> list[ir.Param]:
        return list(self.program.model.params)

    def run(
        self,
        mode: str = "deterministic",
        *,
        runs: int | None = None,
        seed: int = 42,
        steps: int | None = None,
        params: dict[str, Any] | None = None,
        threads: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        until_se: float | None = None,
        memory_limit: int | None = None,
        client: Any = None,
        compile_progress: Callable[[str, int, int], None] | None = None,
    ) -> Any:
        """Run the model; `params` overrides parameters ({name: number or PEL literal text like "$120"}).

        Monte Carlo only: `until_se` (e.g. 0.001) adds blocks of paths until every output's relative standard
        error is below it, `runs` being the cap; `memory_limit` (bytes, default 1 GiB) bounds the values kept
        for exact percentiles (beyond it they come from a quantile sketch, rank error < 0.4%); `client`, a
        dask.distributed Client, runs the paths on its cluster (same results as a local run).
        `compile_progress(stage, done, total)` hears how a first compile of the model's kernels goes."""
        from pel import overrides
        from pel.backend import engine

        check_run_options(mode, runs, steps, seed, threads)
        values = overrides.resolve(self.program, params or {})
        if runs is None:
            runs = self.program.model.simulate.runs or 1000
        return engine.run(self.program, mode=mode, seed=seed, steps=steps, runs=runs, params=values,
                          threads=threads, progress=progress, until_se=until_se, memory_limit=memory_limit,
                          client=client, compile_progress=compile_progress)

    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write the IR (`.ir.json` or `.ir.msgpack`, chosen by `format` or the suffix)."""
        from pel.ir import serialize

        fmt = format or ("msgpack" if str(path).endswith(".msgpack") else "json")
        serialize.save(self.program, path, fmt)
        return Path(path)

    def __repr__(self) -> str:
        return f"<pel.Model {self.name} {self.hash[:19]}>"


def check_run_options(mode: str, runs: int | None, steps: int | None, seed: int, threads: int | None) -> None:
    """Refuse impossible run options with a coded error naming the option."""
    if mode not in MODES:
        raise RunError(simple("E0011", f"mode must be one of {', '.join(MODES)}, got {mode!r}"))
    if runs is not None and not (isinstance(runs, int) and runs >= 1):
        raise RunError(simple("E0011", f"runs must be a positive integer, got {runs!r}"))
    if steps is not None and not (isinstance(steps, int) and 0 <= steps <= 100_000):
        raise RunError(simple("E0011", f"steps must be an integer in 0..100000, got {steps!r}"))
    if not (isinstance(seed, int) and 0 <= seed < 2**63):
        raise RunError(simple("E0011", f"seed must be a non-negative integer below 2**63, got {seed!r}"))
    if threads is not None and not (isinstance(threads, int) and 1 <= threads <= 1024):
        raise RunError(simple("E0011", f"threads must be an integer in 1..1024, got {threads!r}"))
