"""The Result of a run: statistics per output variable, constraint logs, and the results JSON contract."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pel.diagnostics import RunError, simple
from pel.fileio import write_atomic

STATISTICS = ("mean", "std", "p5", "p10", "p25", "p50", "p75", "p90", "p95")


def json_float(x: Any) -> float | None:
    """A JSON-safe number: NaN/inf become null (the file never holds NaN or Infinity)."""
    x = float(x)
    return x if math.isfinite(x) else None


def _json_floats(a: np.ndarray) -> list[float | None]:
    """json_float of every element."""
    a = np.asarray(a, dtype=np.float64)
    out = a.tolist()
    bad = ~np.isfinite(a)
    if bad.any():
        for k in np.flatnonzero(bad).tolist():
            out[k] = None
    return out


def _points(v: Any, pad: str) -> str:
    """A variable's value: a flat object of numbers, or a list of them (`point()` writes only numbers, booleans
    and null under plain keys), indented as json.dumps(indent=2) does, by the C encoder and a few replaces."""
    inner, item = pad + "  ", pad + "    "
    text = json.dumps(v, allow_nan=False)
    if isinstance(v, dict):
        return text.replace("{", "{\n" + inner, 1).replace(', "', ",\n" + inner + '"')[:-1] + "\n" + pad + "}"
    if not v:
        return "[]"
    text = text.replace("}, {", "\n" + inner + "},\n" + inner + "{\n" + item).replace(', "', ",\n" + item + '"')
    return "[\n" + inner + "{\n" + item + text[2:-2] + "\n" + inner + "}\n" + pad + "]"


def dumps_indented(doc: dict, numeric: frozenset[str] | set[str] = frozenset()) -> str:
    """Exactly json.dumps(doc, indent=2, allow_nan=False); the entries named in `numeric` (variables: objects of
    numbers, or lists of them) go through the C encoder, several times faster than json's indented encoder,
    which is pure Python (a 350-variable Monte Carlo file: 0.3 s -> 0.05 s)."""
    if not doc:
        return "{}"
    parts = []
    for k, v in doc.items():
        text = _points(v, "  ") if k in numeric else json.dumps(v, indent=2, allow_nan=False).replace("\n", "\n  ")
        parts.append(f"  {json.dumps(k)}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}"


@dataclass(frozen=True)
class Histogram:
    """Counts of an output's values at the horizon step, in equal bins between `edges[0]` and `edges[-1]`; values
    beyond them are counted in `below` and `above` (a long tail does not flatten the bins of the bulk)."""

    edges: np.ndarray  # (bins + 1,) ascending
    counts: np.ndarray  # (bins,) paths (float: the sketch's items weigh whole paths, summed)
    below: float  # paths with a value under edges[0]
    above: float  # paths with a value over edges[-1]
    source: str  # "paths": every path's value; "sketch": the quantile sketch's weighted items (its rank error)


@dataclass
class VarResult:
    """Per-step arrays of one output variable (`result["mrr"].p50`); deterministic runs have value only
    (the other statistics equal value, std is 0)."""

    name: str
    time_varying: bool
    boolean: bool
    t: np.ndarray
    value: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    p5: np.ndarray
    p10: np.ndarray
    p25: np.ndarray
    p50: np.ndarray
    p75: np.ndarray
    p90: np.ndarray
    p95: np.ndarray
    n: np.ndarray | None = None  # Monte Carlo: paths with a value at each t
    se: np.ndarray | None = None  # Monte Carlo: standard error of the mean at each t
    text: str | None = None  # a variable holding a text (`var label = "EMEA"`): reported as written

    def point(self, k: int, monte_carlo: bool) -> dict:
        if not monte_carlo:
            v = self.value[k]
            if self.boolean and math.isfinite(v):
                return {"t": int(self.t[k]), "value": bool(v != 0.0)}
            return {"t": int(self.t[k]), "value": json_float(v)}
        out: dict = {"t": int(self.t[k]), "value": json_float(self.mean[k])}
        for stat in STATISTICS:
            out[stat] = json_float(getattr(self, stat)[k])
            if stat == "std" and self.se is not None:
                out["se"] = json_float(self.se[k])
        out["n"] = int(self.n[k]) if self.n is not None else None
        return out

    def points(self, monte_carlo: bool) -> list[dict]:
        """[point(k) for every k], built column by column (a large model has hundreds of thousands of values)."""
        t = [int(x) for x in self.t]
        if not monte_carlo:
            if self.boolean:
                return [self.point(k, False) for k in range(len(t))]
            return [{"t": tk, "value": v} for tk, v in zip(t, _json_floats(self.value), strict=True)]
        keys = ["t", "value"]
        cols: list[list] = [t, _json_floats(self.mean)]
        for stat in STATISTICS:
            keys.append(stat)
            cols.append(_json_floats(getattr(self, stat)))
            if stat == "std" and self.se is not None:
                keys.append("se")
                cols.append(_json_floats(self.se))
        keys.append("n")
        cols.append([int(x) for x in self.n] if self.n is not None else [None] * len(t))
        return [dict(zip(keys, row, strict=True)) for row in zip(*cols, strict=True)]

    def __repr__(self) -> str:
        if self.text is not None:
            return f"<pel.VarResult {self.name} = {self.text!r}>"
        if len(self.t) == 0:
            return f"<pel.VarResult {self.name} (no steps)>"
        last = len(self.t) - 1
        span = f"t={int(self.t[0])}..{int(self.t[last])}" if self.time_varying else "constant"
        spread = ""
        if self.n is not None:
            spread = f", p5 {self.p5[last]:.6g}, p95 {self.p95[last]:.6g}"
        return f"<pel.VarResult {self.name} {span}: value[{int(self.t[last])}] = {self.value[last]:.6g}{spread}>"

    def to_json_value(self, monte_carlo: bool) -> Any:
        if self.text is not None:
            return {"value": self.text}
        if self.time_varying:
            return self.points(monte_carlo)
        if len(self.t) == 0:
            return {"value": None}
        out = self.point(len(self.t) - 1, monte_carlo)
        del out["t"]
        return out


@dataclass
class Result:
    """What a run returns: status, logs, assumptions and one VarResult per output variable."""

    status: str
    message: str | None
    model_name: str
    model_hash: str
    pel_version: str
    mode: str
    seed: int
    steps: int
    time_unit: str
    warnings: list[dict]
    violations: list[dict]
    assumptions: list[dict]
    variables: dict[str, VarResult]
    runs: int | None = None
    success_rate: float | None = None
    failed_paths: dict | None = None
    constraints: dict | None = None
    events: list[dict] = field(default_factory=list)  # emitted policy events (not in the JSON)
    notes: list[str] = field(default_factory=list)  # things the run ignored (e.g. a correlation)
    percentiles: dict | None = None  # Monte Carlo: {"method": "exact" | "sketch", "rank_error_bound": x}
    convergence: dict | None = None  # Monte Carlo with until_se: paths run, why the run stopped, the SEs
    settings_from: dict[str, str] | None = None  # mode, seed, [runs,] steps: "given" | "model" | "default"
    model_version: str | None = None  # the release version (IR metadata.model_version): "model.version" when set
    scenario: str | None = None  # the scenario the run was under: "model.scenario" when set
    # Monte Carlo, kept in memory only (not in the JSON): each output's histogram at the horizon step, and per
    # constraint the paths whose first violation is at each step t (an array of steps + 1 counts)
    horizon_histograms: dict[str, Histogram] = field(default_factory=dict)
    first_violations: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every path ran to the end (status "success")."""
        return self.status == "success"

    @property
    def exit_code(self) -> int:
        """0; 3 when a fatal constraint stopped a deterministic run or no Monte Carlo path completed."""
        return 3 if self.status in ("constraint_violation", "failed") else 0

    def __getitem__(self, name: str) -> VarResult:
        if name not in self.variables:
            raise KeyError(f"{name!r} is not an output of this run (outputs: {', '.join(self.variables)})")
        return self.variables[name]

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def to_dict(self) -> dict:
        """The results JSON (DESIGN.md §3), keys in a fixed order."""
        mc = self.mode == "monte_carlo"
        out: dict = {
            "status": self.status,
            "message": self.message,
            "model": {"name": self.model_name, "hash": self.model_hash, "pel_version": self.pel_version,
                      **({"version": self.model_version} if self.model_version is not None else {}),
                      **({"scenario": self.scenario} if self.scenario is not None else {})},
            "mode": self.mode,
            "seed": self.seed,
            "steps": self.steps,
            "time_unit": self.time_unit,
            "warnings": self.warnings,
            "violations": self.violations,
            "assumptions": self.assumptions,
        }
        if mc:
            out["runs"] = self.runs
            out["success_rate"] = json_float(self.success_rate if self.success_rate is not None else math.nan)
            out["failed_paths"] = self.failed_paths
            out["constraints"] = self.constraints
            if self.percentiles is not None:
                out["percentiles"] = self.percentiles
            if self.convergence is not None:
                out["convergence"] = self.convergence
        if self.settings_from is not None:
            out["settings_from"] = self.settings_from
        for name, var in self.variables.items():
            out[name] = var.to_json_value(mc)
        return out

    def to_json(self, path: str | None = None) -> str:
        """json.dumps(indent=2) + newline; also written to `path` when given (what `pel run -o` writes)."""
        text = dumps_indented(self.to_dict(), set(self.variables)) + "\n"
        if path is not None:
            write_atomic(Path(path), text.encode("utf-8"), 0o644)
        return text

    def to_pandas(self, wide: bool = False) -> Any:
        """A tidy DataFrame with columns variable, t, statistic, value; `wide=True`: one row per t and one column
        per variable (its value), or per (variable, statistic) in Monte Carlo."""
        try:
            import pandas as pd
        except ImportError:
            raise RunError(simple("E0011", "to_pandas() needs pandas, which is not installed",
                                  hint="pip install pandas")) from None
        stats = ("value",) + (STATISTICS + ("se",) if self.mode == "monte_carlo" else ())
        rows = [
            (name, int(var.t[k]), stat, float(getattr(var, stat)[k]))
            for name, var in self.variables.items()
            for stat in stats
            if getattr(var, stat) is not None
            for k in range(len(var.t))
        ]
        tidy = pd.DataFrame(rows, columns=["variable", "t", "statistic", "value"])
        if not wide:
            return tidy
        if self.mode != "monte_carlo":
            return tidy.pivot(index="t", columns="variable", values="value")[list(self._numeric_names())]
        frame = tidy.pivot(index="t", columns=["variable", "statistic"], values="value")
        order = [(name, stat) for name in self._numeric_names() for stat in stats if (name, stat) in frame.columns]
        return frame[order]

    def _numeric_names(self) -> list[str]:
        return [name for name, var in self.variables.items() if var.text is None and len(var.t)]

    def plot(self, var: str, ax: Any = None) -> Any:
        """A fan chart of output `var` (p5-p95 and p25-p75 bands and the median; a line in deterministic mode) on
        a matplotlib Axes (a new figure's when `ax` is None), returned. Needs the `plot` extra (matplotlib)."""
        from pel.report.notebook import plot_variable

        return plot_variable(self, var, ax)

    def _repr_html_(self) -> str:
        """Notebook view: status, a summary table at the horizon, a fan chart of up to four outputs."""
        from pel.report.notebook import result_html

        return result_html(self)

    def __repr__(self) -> str:
        names = list(self.variables)
        shown = ", ".join(names[:4]) + (f", … {len(names) - 4} more" if len(names) > 4 else "")
        paths = f" {self.runs:,} paths" if self.mode == "monte_carlo" and self.runs else ""
        return (f"<pel.Result {self.model_name} {self.mode}{paths} t=0..{self.steps} status={self.status} "
                f"outputs=[{shown}]>")
