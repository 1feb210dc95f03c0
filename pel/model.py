"""`pel.Model`: a compiled program plus `run()`, the object the library API hands to notebooks and pipelines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pel import limits
from pel.diagnostics import Diagnostic, RunError, simple
from pel.ir import nodes as ir

MODES = ("deterministic", "monte_carlo")
DEFAULT_MODE, DEFAULT_SEED, DEFAULT_RUNS = "deterministic", 42, 1000

# Where a run setting came from (the results' "settings_from"): given to this run (a `pel run` flag, a
# `Model.run` argument, a field of `POST /models/{name}/run`), the model (its `simulate` directive; for steps the
# IR's horizon, `simulate for` or 12), or PEL's default.
GIVEN, FROM_MODEL, DEFAULT = "given", "model", "default"


@dataclass(frozen=True)
class RunSettings:
    """The mode, seed, runs and steps a run uses, and where each came from (GIVEN, FROM_MODEL or DEFAULT)."""

    mode: str
    seed: int
    runs: int
    steps: int
    sources: dict[str, str]

    def settings_from(self) -> dict[str, str]:
        """The results' "settings_from": the source of every setting the results show (runs in Monte Carlo only)."""
        keys = ("mode", "seed", "runs", "steps") if self.mode == "monte_carlo" else ("mode", "seed", "steps")
        return {k: self.sources[k] for k in keys}


def run_settings(program: ir.Program, mode: str | None = None, *, seed: int | None = None,
                 runs: int | None = None, steps: int | None = None) -> RunSettings:
    """Resolve a run's settings: what is given wins over the model's `simulate` directive, which wins over PEL's
    defaults (deterministic, seed 42, 1000 runs; steps: the model's horizon). Impossible values are E0011."""
    check_run_options(mode, runs, steps, seed, None)
    sim = program.model.simulate
    sources: dict[str, str] = {}

    def pick(name: str, given: Any, declared: Any, default: Any) -> Any:
        if given is not None:
            sources[name] = GIVEN
            return given
        if declared is not None:
            sources[name] = FROM_MODEL
            return declared
        sources[name] = DEFAULT
        return default

    settings = RunSettings(
        mode=pick("mode", mode, sim.mode, DEFAULT_MODE),
        seed=pick("seed", seed, sim.seed, DEFAULT_SEED),
        runs=pick("runs", runs, sim.runs, DEFAULT_RUNS),
        steps=pick("steps", steps, program.model.time_horizon, None),
        sources=sources,
    )
    try:  # what was given is checked above: a value refused here is the model's
        check_run_options(settings.mode, settings.runs, None, settings.seed, None)
    except RunError as exc:
        raise RunError(simple("E0011", f"the model's simulate directive: {exc.diagnostics[0].message}",
                              hint="give the setting to the run instead")) from None
    return settings


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

    def settings(self, mode: str | None = None, *, seed: int | None = None, runs: int | None = None,
                 steps: int | None = None) -> RunSettings:
        """The settings a `run` with these arguments uses (see `run_settings`)."""
        return run_settings(self.program, mode, seed=seed, runs=runs, steps=steps)

    def run(
        self,
        mode: str | None = None,
        *,
        runs: int | None = None,
        seed: int | None = None,
        steps: int | None = None,
        params: dict[str, Any] | None = None,
        threads: int | None = None,
        progress: Callable[[int, int], None] | None = None,
        until_se: float | None = None,
        memory_limit: int | None = None,
        client: Any = None,
        compile_progress: Callable[[str, int, int], None] | None = None,
        scenario: str | None = None,
    ) -> Any:
        """Run the model; `params` overrides parameters ({name: number or PEL literal text like "$120"});
        `scenario` runs it under one of its `scenario` blocks (`params` still win over the scenario's values).

        `mode`, `seed`, `runs` and `steps` left out (None) come from the model's `simulate` directive, else PEL's
        defaults (deterministic, 42, 1000, the model's horizon); the results record the values used and, in
        "settings_from", where each came from.
        Monte Carlo only: `until_se` (e.g. 0.001) adds blocks of paths until every output's relative standard
        error is below it, `runs` being the cap; `memory_limit` (bytes, default 1 GiB) bounds the values kept
        for exact percentiles (beyond it they come from a quantile sketch, rank error < 0.4%); `client`, a
        dask.distributed Client, runs the paths on its cluster (same results as a local run).
        `compile_progress(stage, done, total)` hears how a first compile of the model's kernels goes."""
        from pel import overrides
        from pel.backend import engine

        used = self.settings(mode, seed=seed, runs=runs, steps=steps)
        check_run_options(None, None, None, None, threads)
        if until_se is not None and used.mode != "monte_carlo":
            raise RunError(simple("E0011", "until_se (--until-se) needs a Monte Carlo run, but the mode is "
                                           f"{used.mode} ({_said(used.sources['mode'])})",
                                  hint="run with mode monte_carlo (--mode monte_carlo)"))
        values = overrides.resolve(self.program, params or {})
        program = self.program
        if scenario is not None:
            from pel import scenario as scenarios

            program, preset = scenarios.apply(self.program, scenario)
            values = {**preset, **values}
        result = engine.run(program, mode=used.mode, seed=used.seed, steps=used.steps, runs=used.runs,
                            params=values, threads=threads, progress=progress, until_se=until_se,
                            memory_limit=memory_limit, client=client, compile_progress=compile_progress)
        result.settings_from = used.settings_from()
        result.scenario = scenario
        return result

    def sensitivity(self, target: str | list[str] | None = None, method: str = "tornado", *,
                    runs: int | None = None, seed: int | None = None, steps: int | None = None,
                    params: dict[str, Any] | None = None, threads: int | None = None, swing: float = 0.10) -> Any:
        """Which assumptions drive `target` ("VAR" or "VAR@T", a list of them, or None: every numeric output at
        the horizon): method "tornado", "spearman" or "sobol" (see `pel sensitivity`); a SensitivityReport
        (`.to_dict()`, `.targets[i].rows`). `runs`: Monte Carlo paths (spearman; default the model's) or base
        samples (sobol; default 4096); `params` fix parameters."""
        from pel import overrides
        from pel.analysis import sensitivity as sa

        used = self.settings("monte_carlo", seed=seed, runs=runs, steps=steps)
        texts = [target] if isinstance(target, str) else target
        targets = sa.parse_targets(texts, self.program.model, used.steps)
        fixed = overrides.resolve(self.program, params or {})
        if method == "tornado":
            return sa.tornado(self.program, targets, steps=used.steps, seed=used.seed, swing=swing, params=fixed)
        if method == "spearman":
            return sa.spearman(self.program, targets, steps=used.steps, runs=used.runs, seed=used.seed,
                               threads=threads or 1, params=fixed)
        if method == "sobol":
            return sa.sobol(self.program, targets, steps=used.steps, runs=runs or 2 ** 12, seed=used.seed,
                            threads=threads or 1, params=fixed)
        raise RunError(simple("E0011", f"method must be one of {', '.join(sa.METHODS)}, got {method!r}"))

    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write the IR (`.ir.json` or `.ir.msgpack`, chosen by `format` or the suffix)."""
        from pel.ir import serialize

        fmt = format or ("msgpack" if str(path).endswith(".msgpack") else "json")
        serialize.save(self.program, path, fmt)
        return Path(path)

    def __repr__(self) -> str:
        return f"<pel.Model {self.name} {self.hash[:19]}>"

    def _repr_html_(self) -> str:
        """Notebook view: the parameters with their types, values or distributions and provenance."""
        from pel.report.notebook import model_html

        return model_html(self)


def _said(source: str) -> str:
    return {GIVEN: "as given", FROM_MODEL: "the model's simulate directive", DEFAULT: "the default"}[source]


def check_run_options(mode: str | None, runs: int | None, steps: int | None, seed: int | None,
                      threads: int | None) -> None:
    """Refuse impossible run options with a coded error naming the option (None: not given)."""
    if mode is not None and mode not in MODES:
        raise RunError(simple("E0011", f"mode must be one of {', '.join(MODES)}, got {mode!r}"))
    def whole(x: Any) -> bool:
        return isinstance(x, int) and not isinstance(x, bool)

    if runs is not None and not (whole(runs) and 1 <= runs <= limits.MAX_RUNS):
        raise RunError(simple("E0011", f"runs must be an integer in 1..{limits.MAX_RUNS:_}, got {runs!r}"))
    if steps is not None and not (whole(steps) and 0 <= steps <= limits.MAX_STEPS):
        raise RunError(simple("E0011", f"steps must be an integer in 0..{limits.MAX_STEPS:_}, got {steps!r}"))
    if seed is not None and not (whole(seed) and 0 <= seed < limits.SEED_LIMIT):
        raise RunError(simple("E0011", f"seed must be a non-negative integer below 2**63, got {seed!r}"))
    if threads is not None and not (isinstance(threads, int) and 1 <= threads <= 1024):
        raise RunError(simple("E0011", f"threads must be an integer in 1..1024, got {threads!r}"))
