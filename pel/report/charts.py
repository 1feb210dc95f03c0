"""Charts of a run drawn by matplotlib (the `plot` extra): fan charts, horizon histograms, constraint and tornado
charts, as inline SVG text for HTML or as PNG/SVG files."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pel.backend.results import VarResult
from pel.report.errors import no_matplotlib
from pel.report.histograms import HorizonHistogram

MAX_POINTS = 1000  # a series longer than this is drawn at every k-th step (the last one always)
BAND_OUTER, BAND_INNER, LINE = "#c6dbef", "#6baed6", "#08519c"
STYLE = {
    "svg.fonttype": "none",  # text stays text: small, searchable, no embedded glyphs
    "svg.hashsalt": "pel-report",  # the same chart gives the same SVG (ids are hashes)
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e5e5",
    "grid.linewidth": 0.6,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
}


@dataclass(frozen=True)
class TornadoRow:
    """One bar of a tornado chart: an output's value with `param` at its low and at its high value."""

    param: str
    low: float  # the output with the parameter at its low value (e.g. its P10)
    high: float  # the output with the parameter at its high value (e.g. its P90)


def require() -> Any:
    """The matplotlib module, or E1000 naming the extra to install."""
    try:
        import matplotlib
    except ImportError:
        raise no_matplotlib() from None
    return matplotlib


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def style() -> Iterator[None]:
    """PEL's chart style for the charts drawn inside the block."""
    mpl = require()
    with mpl.rc_context(STYLE):
        yield


def figure(width: float = 6.4, height: float = 3.2, rows: int = 1, cols: int = 1,
           fitted: bool = False) -> tuple[Any, list[Any]]:
    """A new Figure (not registered with pyplot: nothing global, nothing to close) and its axes, row by row.
    Margins are fixed unless `fitted` (matplotlib's constrained layout: exact, but it draws the figure twice)."""
    require()
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained" if fitted else None)
    if not fitted:
        fig.subplots_adjust(left=0.8 / width, right=1 - 0.15 / width, bottom=0.5 / height, top=1 - 0.3 / height)
    return fig, list(fig.subplots(rows, cols, squeeze=False).ravel())


def label(text: str) -> str:
    """Text for a chart as written: matplotlib reads `$...$` as TeX math, so dollar signs are escaped."""
    return str(text).replace("$", r"\$")


def _thin(n: int) -> np.ndarray:
    """The indices drawn of a series of n points: every k-th and the last, at most about MAX_POINTS."""
    if n <= MAX_POINTS:
        return np.arange(n)
    k = -(-n // MAX_POINTS)
    idx = np.arange(0, n, k)
    return idx if idx[-1] == n - 1 else np.append(idx, n - 1)


def fan(ax: Any, var: VarResult, monte_carlo: bool, unit: str = "", time_unit: str = "Month") -> None:
    """A fan chart: p5-p95 and p25-p75 bands and the median (Monte Carlo), or the value as a line."""
    idx = _thin(len(var.t))
    t = var.t[idx]
    if monte_carlo:
        ax.fill_between(t, var.p5[idx], var.p95[idx], color=BAND_OUTER, linewidth=0, label="p5–p95")
        ax.fill_between(t, var.p25[idx], var.p75[idx], color=BAND_INNER, linewidth=0, label="p25–p75")
        ax.plot(t, var.p50[idx], color=LINE, linewidth=1.4, label="median")
        ax.legend(loc="upper left", fontsize=7, frameon=False)
    else:
        ax.plot(t, var.value[idx], color=LINE, linewidth=1.4, marker="o" if len(t) == 1 else None)
    ax.set_title(label(var.name))
    ax.set_xlabel(label(f"t ({time_unit})"))
    if unit:
        ax.set_ylabel(label(unit))
    ax.yaxis.set_major_formatter(_compact())


def histogram(ax: Any, hist: HorizonHistogram, unit: str = "") -> None:
    """Bars of a horizon histogram (density, so bins of unequal width read right) and its p50."""
    ax.stairs(hist.density, hist.edges, fill=True, color=BAND_INNER)  # one path, not one patch per bar
    if np.isfinite(hist.median):
        ax.axvline(hist.median, color=LINE, linewidth=1.2, label="median")
        ax.legend(loc="upper right", fontsize=7, frameon=False)
    ax.set_title(label(f"{hist.name} ({hist.label()})"))
    ax.set_xlabel(label(unit or "value"))
    ax.set_ylabel("share of paths per unit")
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(_compact())


def constraint_steps(ax: Any, series: Sequence[tuple[str, np.ndarray]], steps: int, monte_carlo: bool,
                     time_unit: str = "Month") -> None:
    """Monte Carlo: per constraint, the share of paths that have violated it by step t (a rising curve);
    deterministic: per constraint, a mark at each step where it was violated."""
    if monte_carlo:
        t = np.arange(steps + 1)
        for name, share in series:
            ax.step(t, share, where="post", linewidth=1.3, label=label(name))
        ax.set_ylabel("paths violated by t")
        ax.yaxis.set_major_formatter(_percent())
    else:
        for row, (_, hits) in enumerate(series):
            ax.plot(hits, np.full(len(hits), row), linestyle="none", marker="|", markersize=10)
        ax.set_yticks(range(len(series)), [label(name) for name, _ in series])
        ax.set_ylim(-0.7, len(series) - 0.3)
        ax.set_xlim(-0.5, steps + 0.5)
    if monte_carlo and series:
        ax.legend(loc="upper left", fontsize=7, frameon=False)
    ax.set_xlabel(label(f"t ({time_unit})"))
    ax.set_title("Constraint violations")


def compact_number(x: float, _pos: object = None) -> str:
    """A tick label: 1.5k, 2.3M, 4B, 0.25 (no offset or exponent above the axis); 1e+18 beyond trillions."""
    if abs(x) >= 1e15:
        return f"{x:.3g}"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _compact() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(compact_number)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)


def tornado(ax: Any, rows: Sequence[TornadoRow], base: float, output: str) -> None:
    """Bars from the output's base value to its value at each parameter's low and high, widest on top."""
    order = sorted(rows, key=lambda r: abs(r.high - r.low))
    for k, r in enumerate(order):
        ax.barh(k, r.low - base, left=base, color=BAND_INNER, height=0.6)
        ax.barh(k, r.high - base, left=base, color=LINE, height=0.6)
    ax.set_yticks(range(len(order)), [label(r.param) for r in order])
    ax.axvline(base, color="#333333", linewidth=0.8)
    ax.set_title(label(f"Sensitivity of {output}"))
    ax.set_xlabel(label(output))


_XML_HEAD = re.compile(r"\A(?:<\?xml[^>]*\?>\s*)?(?:<!DOCTYPE[^>]*>\s*)?", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_NAMESPACES = re.compile(r'\s+xmlns(?::xlink)?="[^"]*"')
_IDS = re.compile(r'id="([^"]+)"')


def svg_text(fig: Any, prefix: str) -> str:
    """The figure as an inline <svg> element for HTML: no XML prolog, no metadata, no namespace URLs (the HTML
    parser knows SVG), every id prefixed so that the charts of one page cannot take each other's clip paths."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = _METADATA.sub("", _XML_HEAD.sub("", buf.getvalue()))
    text = _NAMESPACES.sub("", text, count=2)
    ids = set(_IDS.findall(text))
    if ids:
        pattern = re.compile(r'(id="|#)(' + "|".join(re.escape(i) for i in sorted(ids, key=len, reverse=True))
                             + r')(?=["\)])')
        text = pattern.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", text)
    return text.strip()


def save(fig: Any, path: Path) -> bytes:
    """The figure as the bytes of a PNG or an SVG file, chosen by `path`'s suffix."""
    buf = io.BytesIO()
    fmt = path.suffix.lower().lstrip(".")
    meta = {"Date": None} if fmt == "svg" else {"Software": None}
    fig.savefig(buf, format=fmt, dpi=150, metadata=meta)
    return buf.getvalue()
