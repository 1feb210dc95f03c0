"""Shared helpers of the release commands: loading a model file, changes, walking IR expressions, locations."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pel.diagnostics import Diagnostic, PelError
from pel.ir import nodes as ir
from pel.ir.serialize import encode

# Bump levels in increasing order; "none" means the two versions are the same model.
BUMPS = ("none", "patch", "minor", "major")
# `pel diff --atol` by default: output differences up to this (in each output's unit) are rounding, not a change.
DEFAULT_ATOL = 1e-9


@dataclass
class Change:
    """One difference between two versions of a model and the bump it requires on its own."""

    kind: str  # param_added, param_removed, param_retyped, param_reunited, param_default, ...
    subject: str  # the parameter, constraint, output or "model"
    detail: str  # human text: what changed
    bump: str  # patch | minor | major
    reason: str = ""  # why that bump (for major and minor)


class ReleaseError(PelError):
    """`pel release` refused: a version that exists or is too small, nothing to release, a git tag problem."""

    phase = "release"


@dataclass
class Loaded:
    """A model file as the release commands see it: its IR, compile warnings, the path shown in locations."""

    path: str
    program: ir.Program
    warnings: list[Diagnostic]
    source: str | None  # the .pel text when the input was source

    @property
    def model(self) -> ir.Model:
        return self.program.model

    @property
    def shown_file(self) -> str:
        """The file named in `file:line:col` locations: the source the IR came from."""
        if self.source is not None:
            return self.path
        return str(self.program.metadata.get("source_file") or self.path)


def load(path: str) -> Loaded:
    """Compile a .pel file or load a validated .ir.json / .ir.msgpack (PEL errors propagate as they are)."""
    from pel import pipeline

    if not path.endswith(".pel"):  # IR, or the coded "unknown model file type" error
        program, warnings = pipeline.load_program(path)
        return Loaded(path, program, warnings, None)
    comp = pipeline.compile_file(path)
    return Loaded(path, comp.program, comp.warnings, comp.source)


def nodes(obj: Any) -> Iterator[Any]:
    """Every dataclass node under `obj` (itself included), depth first."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        yield obj
        for f in dataclasses.fields(obj):
            yield from nodes(getattr(obj, f.name))
    elif isinstance(obj, (tuple, list)):
        for item in obj:
            yield from nodes(item)


def reads(obj: Any) -> set[str]:
    """Names of parameters and variables read anywhere under `obj` (policy targets are writes, not reads)."""
    out: set[str] = set()
    for n in nodes(obj):
        if isinstance(n, (ir.Ref, ir.Index, ir.SeriesRef, ir.Changes)) and n.kind in ("param", "var", "array"):
            out.add(n.name)
    return out


def calls(obj: Any) -> set[str]:
    """Names of functions called under `obj`."""
    return {n.function for n in nodes(obj) if isinstance(n, ir.Call)}


def has_inline_draw(obj: Any) -> bool:
    """True when an inline distribution (a fresh draw at every step) appears under `obj`."""
    return any(isinstance(n, ir.Distribution) for n in nodes(obj))


def shape(obj: Any) -> Any:
    """The encoded IR of `obj` without source locations or draw-site numbers: equal shapes mean equal meaning."""
    return _strip(encode(obj))


def _strip(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v) for k, v in data.items() if k not in ("loc", "site")}
    if isinstance(data, list):
        return [_strip(v) for v in data]
    return data


def extra_field(prov: ir.Provenance, key: str) -> str | None:
    """A provenance field PEL does not interpret (e.g. `validated`), as its string value."""
    for k, text in prov.extra:
        if k == key:
            try:
                value = json.loads(text)
            except ValueError:
                return text
            return value if isinstance(value, str) else text
    return None


def location(file: str, loc: ir.Loc) -> dict[str, Any]:
    line, col = (loc[0], loc[1]) if loc else (1, 1)
    return {"file": file, "line": line, "col": col}


def model_line(loaded: Loaded) -> tuple[int, int]:
    """Line and column of the `model Name` header in the source (1, 1 when the source is not at hand)."""
    text = loaded.source
    if text is None:
        path = Path(loaded.shown_file)
        if path.suffix == ".pel" and path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
    if text:
        for i, line in enumerate(text.splitlines(), start=1):
            stripped = line.lstrip()
            if stripped.startswith("model ") and loaded.model.name in stripped:
                return i, len(line) - len(stripped) + 1
    return 1, 1


def percent_or_fraction(text: str) -> float:
    """`5%` or `0.05` -> 0.05 (argparse type for thresholds)."""
    import argparse

    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction like 0.05 or a percentage like 5%, got {text!r}") from None
    if not 0.0 <= value <= 1e6:
        raise argparse.ArgumentTypeError(f"expected a non-negative threshold, got {text!r}")
    return value


def tolerance(text: str) -> float:
    """A finite number >= 0 (argparse type for --atol)."""
    import argparse

    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number like 0.01 or 1e-6, got {text!r}") from None
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value
