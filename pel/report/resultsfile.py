"""Read a results JSON file (what `pel run -o` writes) back into a Result, refusing a broken one with coded errors."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from pel.backend.results import STATISTICS, Result, VarResult
from pel.report.errors import ReportError, report_error
from pel.resultkeys import RESULT_KEYS

STATUSES = ("success", "constraint_violation", "partial", "failed")
MODES = ("deterministic", "monte_carlo")


def read_results(path: str | Path) -> Result:
    """The Result a results file holds; E1001 when it cannot be read as JSON, E1002 when it is not PEL results."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise report_error("E1001", f"cannot read the results file: {exc.strerror or exc}", name) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise report_error("E1001", "the results file is not UTF-8 text", name, line, col) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise report_error("E1001", f"the results file is not JSON: {exc.msg}", name, exc.lineno, exc.colno,
                           hint="write it again with `pel run MODEL -o FILE.json`") from None
    return result_from_dict(doc, name)


class _Checker:
    """Typed reads of the document, each refusing a wrong value with E1002 naming the key's path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, where: str, what: str, got: Any) -> ReportError:
        shown = json.dumps(got)[:60] if _jsonable(got) else type(got).__name__
        return report_error("E1002", f"not PEL results: `{where}` must be {what}, got {shown}", self.file,
                            hint="a results file is what `pel run MODEL -o FILE.json` writes")

    def key(self, obj: dict, key: str, where: str) -> Any:
        if key not in obj:
            raise report_error("E1002", f"not PEL results: `{where}` is missing", self.file,
                               hint="a results file is what `pel run MODEL -o FILE.json` writes")
        return obj[key]

    def text(self, value: Any, where: str, optional: bool = False) -> str | None:
        if isinstance(value, str) or (optional and value is None):
            return value
        raise self.fail(where, "text" + (" or null" if optional else ""), value)

    def whole(self, value: Any, where: str, low: int = 0) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and value >= low:
            return value
        raise self.fail(where, f"a whole number >= {low}", value)

    def number(self, value: Any, where: str) -> float:
        """A number, true/false (1/0) or null (NaN)."""
        if value is None:
            return math.nan
        if isinstance(value, (int, float)) and math.isfinite(float(value)):
            return float(value)
        raise self.fail(where, "a number or null", value)

    def mapping(self, value: Any, where: str, optional: bool = False) -> dict | None:
        if isinstance(value, dict) or (optional and value is None):
            return value
        raise self.fail(where, "an object" + (" or null" if optional else ""), value)

    def records(self, value: Any, where: str) -> list[dict]:
        if not isinstance(value, list):
            raise self.fail(where, "a list", value)
        for k, item in enumerate(value):
            self.mapping(item, f"{where}[{k}]")
        return value


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def result_from_dict(doc: Any, file: str = "<results>") -> Result:
    """The Result of a parsed results document (DESIGN.md §3), every key checked."""
    c = _Checker(file)
    if not isinstance(doc, dict):
        raise c.fail("(top level)", "an object", doc)
    status = c.key(doc, "status", "status")
    if status not in STATUSES:
        raise c.fail("status", f"one of {', '.join(STATUSES)}", status)
    mode = c.key(doc, "mode", "mode")
    if mode not in MODES:
        raise c.fail("mode", f"one of {', '.join(MODES)}", mode)
    model = c.mapping(c.key(doc, "model", "model"), "model")
    assert model is not None
    steps = c.whole(c.key(doc, "steps", "steps"), "steps")
    mc = mode == "monte_carlo"
    result = Result(
        status=status,
        message=c.text(doc.get("message"), "message", optional=True),
        model_name=str(c.text(c.key(model, "name", "model.name"), "model.name")),
        model_hash=str(c.text(model.get("hash", ""), "model.hash")),
        pel_version=str(c.text(model.get("pel_version", ""), "model.pel_version")),
        mode=mode,
        seed=c.whole(c.key(doc, "seed", "seed"), "seed"),
        steps=steps,
        time_unit=str(c.text(c.key(doc, "time_unit", "time_unit"), "time_unit")),
        warnings=c.records(c.key(doc, "warnings", "warnings"), "warnings"),
        violations=c.records(c.key(doc, "violations", "violations"), "violations"),
        assumptions=c.records(c.key(doc, "assumptions", "assumptions"), "assumptions"),
        variables={},
    )
    if mc:
        result.runs = c.whole(c.key(doc, "runs", "runs"), "runs", low=1)
        rate = c.number(doc.get("success_rate"), "success_rate")
        result.success_rate = None if math.isnan(rate) else rate
        result.failed_paths = c.mapping(doc.get("failed_paths"), "failed_paths", optional=True)
        result.constraints = _constraints(c, doc.get("constraints"))
        result.percentiles = c.mapping(doc.get("percentiles"), "percentiles", optional=True)
        result.convergence = c.mapping(doc.get("convergence"), "convergence", optional=True)
    result.model_version = c.text(model.get("version"), "model.version", optional=True)
    if model.get("scenario") is not None:
        result.scenario = c.text(model["scenario"], "model.scenario")
    settings = c.mapping(doc.get("settings_from"), "settings_from", optional=True)
    result.settings_from = None if settings is None else {str(k): str(v) for k, v in settings.items()}
    for name, value in doc.items():
        if name not in RESULT_KEYS:
            result.variables[name] = _variable(c, name, value, steps, mc)
    return result


def _constraints(c: _Checker, value: Any) -> dict | None:
    entries = c.mapping(value, "constraints", optional=True)
    if entries is None:
        return None
    for name, entry in entries.items():
        where = f"constraints.{name}"
        c.mapping(entry, where)
        c.whole(c.key(entry, "violations", f"{where}.violations"), f"{where}.violations")
        c.number(c.key(entry, "rate", f"{where}.rate"), f"{where}.rate")
        first = c.mapping(entry.get("first_violation_t"), f"{where}.first_violation_t", optional=True)
        if first is not None:
            for key in ("min", "max", "mean"):
                c.number(c.key(first, key, f"{where}.first_violation_t.{key}"), f"{where}.first_violation_t.{key}")
    return entries


def _variable(c: _Checker, name: str, value: Any, steps: int, mc: bool) -> VarResult:
    """A variable: a list of points (a time series) or one object (constant in time, or a text)."""
    if isinstance(value, dict):
        raw = c.key(value, "value", f"{name}.value")
        if isinstance(raw, str):
            var = _build(name, False, False, [steps], [{"value": None}], mc, c)
            var.text = raw
            return var
        return _build(name, False, isinstance(raw, bool), [steps], [value], mc, c)
    if not isinstance(value, list):
        raise c.fail(name, "a list of points or an object (an output variable)", value)
    ts: list[int] = []
    for k, point in enumerate(value):
        c.mapping(point, f"{name}[{k}]")
        t = c.whole(c.key(point, "t", f"{name}[{k}].t"), f"{name}[{k}].t")
        if t > steps or (ts and t <= ts[-1]):
            raise c.fail(f"{name}[{k}].t", f"a step after the previous one, at most {steps}", t)
        ts.append(t)
    boolean = any(isinstance(p.get("value"), bool) for p in value)
    return _build(name, True, boolean, ts, value, mc, c)


def _build(name: str, time_varying: bool, boolean: bool, ts: list[int], points: list[dict], mc: bool,
           c: _Checker) -> VarResult:
    def column(key: str) -> np.ndarray:
        return np.array([c.number(p.get(key), f"{name}[{k}].{key}" if time_varying else f"{name}.{key}")
                         for k, p in enumerate(points)], dtype=np.float64)

    value = column("value")
    stats = {stat: column(stat) if mc else value for stat in STATISTICS}
    if not mc:
        stats["std"] = np.zeros_like(value)
    var = VarResult(name, time_varying, boolean, np.array(ts, dtype=np.int64), value, **stats)
    if mc:
        var.n = np.array([c.whole(p["n"], f"{name}[{k}].n") if p.get("n") is not None else 0
                          for k, p in enumerate(points)], dtype=np.int64)
        if any("se" in p for p in points):
            var.se = column("se")
    return var


def checked_variable(result: Result, name: str, file: str | None = None) -> str:
    """`name` when the results hold it with numbers; E1003 naming the outputs otherwise."""
    var = result.variables.get(name)
    if var is None:
        names = list(result.variables)
        shown = ", ".join(names[:12]) + (f", … {len(names) - 12} more" if len(names) > 12 else "")
        raise report_error("E1003", f"{name!r} is not an output of this run", file,
                           hint=f"outputs: {shown or '(none)'}")
    if var.text is not None or len(var.t) == 0:
        raise report_error("E1003", f"{name!r} holds text or no value, not numbers to draw", file)
    return name
