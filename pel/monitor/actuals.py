"""Actuals: observed values of a model's outputs, read from a CSV file (long `t,variable,value` or wide
`t,<var>,<var>…`, `date` instead of `t` with a start month) and checked against the model with coded errors."""

from __future__ import annotations

import datetime as dt
import difflib
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pel.diagnostics import Diagnostic, PelError, Span, simple
from pel.ir import nodes as ir
from pel.lang.units import CURRENCY_SYMBOLS, LITERAL_UNITS
from pel.overrides import steps_per

MAX_ERRORS = 20  # a file wrong on every line reports this many, then how many more

# The duration literal units of the language (LANGUAGE.md §1.3), and the unit names a CSV may spell out.
_DURATION_UNITS = LITERAL_UNITS
_TIME_UNITS = frozenset(_DURATION_UNITS.values())
_UNIT_NAMES = {**_DURATION_UNITS, **{u.lower(): u for u in _TIME_UNITS}, **{u.lower() + "s": u for u in _TIME_UNITS}}
_SYMBOLS = CURRENCY_SYMBOLS
_CALENDAR_MONTHS = {"Month": 1, "Quarter": 3, "Year": 12}
_CLOCK_DAYS = {"Day": 1, "Week": 7}

_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:_\d+)*)(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?"
_VALUE = re.compile(
    rf"""(?P<sign>[-+]?)\s*(?P<symbol>[$€£]?)\s*(?P<sign2>[-+]?)(?P<number>{_NUMBER})
         (?P<percent>\s*%)?(?:\s*(?P<word>[A-Za-z]+))?
         (?:\s*/\s*(?P<per_n>\d+(?:\.\d+)?)?\s*(?P<per_unit>[A-Za-z]+))?""",
    re.VERBOSE,
)
_WHOLE = re.compile(r"[-+]?\d+")
_DATE = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?")


class ActualsError(PelError):
    """An actuals file was refused (unreadable, malformed, or not about this model's outputs)."""

    phase = "actuals"


@dataclass(frozen=True, slots=True)
class Observation:
    """One observed value of an output variable at step t."""

    variable: str
    t: int
    value: float  # in the units the results show: per model step for flows and rates
    span: Span  # the cell it was read from


@dataclass(frozen=True)
class Actuals:
    """The observations of one actuals file, in file order."""

    file: str
    layout: str  # "long" (t,variable,value) or "wide" (t,<var>,<var>…)
    observations: tuple[Observation, ...]

    def variables(self) -> list[str]:
        """The variables observed, in order of first appearance."""
        return list(dict.fromkeys(o.variable for o in self.observations))

    def series(self, name: str) -> list[Observation]:
        """The observations of one variable, by t."""
        return sorted((o for o in self.observations if o.variable == name), key=lambda o: o.t)


def read_actuals(path: str | Path, model: ir.Model, *, steps: int | None = None,
                 start: dt.date | None = None) -> Actuals:
    """Read an actuals CSV for `model`: t must lie in 0..steps (default: the model's horizon); a `date` column
    needs `start`, the date of t = 0. Raises ActualsError (E0900–E0908) naming the file, line and column."""
    file = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise _file_error(file, f"no such file: {file}") from None
    except IsADirectoryError:
        raise _file_error(file, f"is a folder, not an actuals file: {file}") from None
    except OSError as exc:
        raise _file_error(file, f"cannot read {file}: {exc.strerror or exc}") from None
    return parse_actuals(data, file, model, steps=steps, start=start)


def parse_actuals(data: bytes | str, file: str, model: ir.Model, *, steps: int | None = None,
                  start: dt.date | None = None) -> Actuals:
    """`read_actuals` on the bytes (or text) of a file; `file` is the name the errors show."""
    text = _decode(data, file) if isinstance(data, bytes) else data
    text = text.removeprefix("\ufeff")
    reader = _Reader(file, model, model.time_horizon if steps is None else steps, start, text)
    return reader.read()


def _file_error(file: str, message: str) -> ActualsError:
    return ActualsError(simple("E0900", message, Span(file, 0, 0, 0, 0)))


def _decode(data: bytes, file: str) -> str:
    """UTF-8 text, or E0900 at the line and column of the first byte that is not."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8", errors="replace")) + 1
        raise ActualsError(simple(
            "E0900", f"{file} is not UTF-8 text (byte 0x{data[exc.start]:02x} at line {line}, column {col})",
            Span(file, line, col, line, col + 1), hint="save the file as UTF-8 (\"CSV UTF-8\" in a spreadsheet)",
        )) from None


# ---------------------------------------------------------------------------------------------
# CSV lines: cells with their columns
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cell:
    text: str  # without quotes and surrounding blanks
    line: int
    col: int  # 1-based column of its first character (the opening quote of a quoted cell)
    width: int

    def span(self, file: str) -> Span:
        return Span(file, self.line, self.col, self.line, self.col + max(self.width, 1))


class _RowError(Exception):
    def __init__(self, col: int, width: int, message: str) -> None:
        super().__init__(message)
        self.col, self.width, self.message = col, width, message


def _split(line: str, lineno: int) -> list[_Cell]:
    """The comma-separated cells of one line (RFC 4180 quoting within the line; blanks around cells dropped)."""
    cells: list[_Cell] = []
    j, n = 0, len(line)
    while True:
        while j < n and line[j] in " \t":
            j += 1
        start = j
        if j < n and line[j] == '"':
            text, j = _quoted(line, j)
            end = j
            while j < n and line[j] in " \t":
                j += 1
            if j < n and line[j] != ",":
                raise _RowError(j + 1, 1, "text after a closing quote (a quote inside a quoted cell is written \"\")")
        else:
            k = line.find(",", j)
            k = n if k < 0 else k
            text = line[j:k].rstrip(" \t")
            end = j + len(text)
            j = k
        cells.append(_Cell(text.strip(), lineno, start + 1, end - start))
        if j >= n:
            return cells
        j += 1


def _quoted(line: str, j: int) -> tuple[str, int]:
    """The text of the quoted cell opening at line[j], and the index after its closing quote."""
    out: list[str] = []
    k = j + 1
    while k < len(line):
        if line[k] == '"':
            if line[k + 1:k + 2] == '"':
                out.append('"')
                k += 2
                continue
            return "".join(out), k + 1
        out.append(line[k])
        k += 1
    raise _RowError(j + 1, len(line) - j, "unterminated quote (a quoted cell ends on its own line)")


def _key(name: str) -> str:
    """A header name as the reader matches it: `t`, `date`, `variable` and `value` without case, variables exactly."""
    return name.lower() if name.lower() in ("t", "date", "variable", "value") else name


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of every line holding data: blank lines and `#` comment lines are skipped."""
    for k, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield k, line


# ---------------------------------------------------------------------------------------------
# The reader
# ---------------------------------------------------------------------------------------------


class _Reader:
    """Reads one file: header, then rows; collects up to MAX_ERRORS diagnostics before giving up."""

    def __init__(self, file: str, model: ir.Model, steps: int, start: dt.date | None, text: str) -> None:
        self.file, self.model, self.steps, self.start = file, model, steps, start
        self.text = text
        self.vars = {v.name: v for v in model.vars}
        self.outputs = model.output_names()
        self.errors: list[Diagnostic] = []
        self.dropped = 0
        self.seen: dict[tuple[str, int], int] = {}  # (variable, t) -> line first seen

    def fail(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(simple(code, message, span, hint))
        else:
            self.dropped += 1

    def stop(self) -> ActualsError:
        diags = list(self.errors)
        if self.dropped:
            diags.append(Diagnostic("note", diags[-1].code, f"{self.dropped} more error(s) not shown",
                                    Span(self.file, 0, 0, 0, 0)))
        return ActualsError(diags, self.text)

    def read(self) -> Actuals:
        lines = _lines(self.text)
        first = next(lines, None)
        if first is None:
            raise ActualsError(simple("E0901", "empty file: expected a header line such as `t,variable,value` or "
                                      "`t,mrr,customers`", Span(self.file, 1, 1, 1, 1)), self.text)
        layout, columns = self.header(*first)
        observations: list[Observation] = []
        for lineno, line in lines:
            observations.extend(self.row(lineno, line, layout, columns))
        if self.errors:
            raise self.stop()
        if not observations:
            raise ActualsError(simple("E0908", "no observations: the file has a header and no values",
                                      Span(self.file, first[0], 1, first[0], len(first[1]) + 1)), self.text)
        return Actuals(self.file, layout, tuple(observations))

    # -- header ---------------------------------------------------------------------------------

    def header(self, lineno: int, line: str) -> tuple[str, list[_Cell]]:
        """The layout ("long" or "wide") and the header cells; E0901/E0903/E0904 stop here."""
        try:
            cells = _split(line, lineno)
        except _RowError as exc:
            raise ActualsError(simple("E0902", exc.message, Span(self.file, lineno, exc.col, lineno,
                                                                 exc.col + exc.width)), self.text) from None
        keys = [_key(c.text) for c in cells]
        for k, c in enumerate(cells):
            if not c.text:
                self.fail("E0901", f"column {k + 1} of the header has no name", c.span(self.file))
            elif keys.index(keys[k]) != k:
                self.fail("E0901", f"column {c.text!r} appears twice in the header", c.span(self.file))
        if self.errors:
            raise self.stop()
        time_col = self.time_column(cells)
        rest = [c for c in cells if c is not time_col]
        if {"variable", "value"} & {_key(c.text) for c in rest}:
            self.long_header(rest, cells[-1])
            return "long", cells
        if not rest:
            raise ActualsError(simple("E0901", "the header names no variable", cells[0].span(self.file),
                                      hint="t,variable,value (long) or t,<variable>,… (wide)"), self.text)
        for c in rest:
            self.check_variable(c)
        if self.errors:
            raise self.stop()
        return "wide", cells

    def time_column(self, cells: list[_Cell]) -> _Cell:
        """The header's one `t` or `date` column (E0901 without one, or with both)."""
        found = [c for c in cells if _key(c.text) in ("t", "date")]
        if not found:
            data_like = bool(_WHOLE.fullmatch(cells[0].text) or _DATE.fullmatch(cells[0].text))
            why = "the first line holds data, not column names" if data_like else "no `t` or `date` column"
            raise ActualsError(simple("E0901", f"missing header: {why}", cells[0].span(self.file),
                                      hint="the first line names the columns: t,variable,value (long) or "
                                           "t,<variable>,<variable>… (wide); `date` may replace `t`"), self.text)
        if len(found) > 1:
            raise ActualsError(simple("E0901", "both a `t` and a `date` column: give one of them",
                                      found[1].span(self.file)), self.text)
        if _key(found[0].text) == "date":
            self.check_dates_usable(found[0])
        return found[0]

    def long_header(self, rest: list[_Cell], last: _Cell) -> None:
        """Besides the time column, a long file has exactly `variable` and `value` (E0901)."""
        for c in rest:
            if _key(c.text) not in ("variable", "value"):
                self.fail("E0901", f"unexpected column {c.text!r} in a long file (columns t, variable, value)",
                          c.span(self.file), hint="a long file has exactly the columns t (or date), variable "
                                                  "and value")
        missing = {"variable", "value"} - {_key(c.text) for c in rest}
        if missing:
            self.fail("E0901", f"a long file needs a `{missing.pop()}` column", last.span(self.file))
        if self.errors:
            raise self.stop()

    def check_dates_usable(self, cell: _Cell) -> None:
        unit = self.model.time_unit
        if unit not in _CALENDAR_MONTHS and unit not in _CLOCK_DAYS:
            raise ActualsError(simple("E0904", f"dates need steps of a day or longer; {self.model.name} steps in "
                                      f"{unit}s", cell.span(self.file), hint="use a `t` column"), self.text)
        if self.start is None:
            raise ActualsError(simple("E0904", "a `date` column needs the date of t = 0", cell.span(self.file),
                                      hint="give the start: --start YYYY-MM (the month of t = 0), or use a `t` "
                                           "column"), self.text)
        if unit in _CALENDAR_MONTHS and self.start.day != 1:
            raise ActualsError(simple("E0011", f"--start {self.start.isoformat()}: {self.model.name} steps in "
                                      f"{unit}s, which begin on the first of a month",
                                      hint=f"give --start {self._start_text()}"), self.text)

    def check_variable(self, cell: _Cell) -> str | None:
        """The variable named by `cell` when the run outputs it; else an E0903 and None."""
        name = cell.text
        var = self.vars.get(name)
        if var is None and name in self.outputs:  # `output total = expr`: an output without a declared type
            return name
        if var is None:
            close = difflib.get_close_matches(name, self.outputs, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"outputs: {', '.join(self.outputs) or 'none'}"
            self.fail("E0903", f"{self.model.name} has no variable {name!r}", cell.span(self.file), hint)
            return None
        if name not in self.outputs:
            self.fail("E0903", f"{name!r} is not an output of {self.model.name} (its `output` directive leaves "
                               "it out)", cell.span(self.file), hint=f"outputs: {', '.join(self.outputs)}")
            return None
        if var.type.kind in ir.TEXT_KINDS:
            self.fail("E0903", f"{name!r} holds {var.type.display}, not numbers", cell.span(self.file))
            return None
        return name

    # -- rows -----------------------------------------------------------------------------------

    def row(self, lineno: int, line: str, layout: str, columns: list[_Cell]) -> list[Observation]:
        try:
            cells = _split(line, lineno)
        except _RowError as exc:
            self.fail("E0902", exc.message, Span(self.file, lineno, exc.col, lineno, exc.col + exc.width))
            return []
        if len(cells) != len(columns):
            hint = None
            if len(cells) > len(columns) and any(re.fullmatch(r"\d{3}(\.\d*)?", c.text) for c in cells[1:]):
                hint = 'a value with thousands separators must be quoted: "$50,000"'
            self.fail("E0902", f"this row has {len(cells)} cells, the header {len(columns)}",
                      Span(self.file, lineno, 1, lineno, len(line) + 1), hint)
            return []
        by_name = {_key(col.text): cell for col, cell in zip(columns, cells, strict=True)}
        time_cell = by_name.get("t") or by_name["date"]
        t = self.step(time_cell, "t" in by_name)
        if layout == "long":
            name = self.check_variable(by_name["variable"]) if by_name["variable"].text else None
            if not by_name["variable"].text:
                self.fail("E0903", "no variable name", by_name["variable"].span(self.file))
            pairs = [(name, by_name["value"], True)]
        else:
            pairs = [(col.text, cell, False) for col, cell in zip(columns, cells, strict=True)
                     if cell is not time_cell and cell.text]
        out: list[Observation] = []
        repeated = False
        for name, cell, required in pairs:
            value = self.value(cell, name, required)
            if name is None or value is None or t is None:
                continue
            first = self.seen.setdefault((name, t), lineno)
            if first == lineno:
                out.append(Observation(name, t, value, cell.span(self.file)))
            elif not repeated:  # one error per row
                repeated = True
                self.fail("E0907", f"a second value for {name} at t={t} (the first is on line {first})",
                          (time_cell if layout == "wide" else cell).span(self.file),
                          hint="each variable has one value per step; dates in the same step count as one")
        return out

    def step(self, cell: _Cell, is_t: bool) -> int | None:
        """The step of a `t` or `date` cell within 0..steps; else an E0904 and None."""
        span = cell.span(self.file)
        if is_t:
            if not _WHOLE.fullmatch(cell.text):
                self.fail("E0904", f"t must be a whole number of steps, got {cell.text!r}", span)
                return None
            t, shown = int(cell.text), f"t={int(cell.text)} is"
        else:
            t = self.date_step(cell)
            if t is None:
                return None
            shown = f"{cell.text} is t={t}, which is"
        if not 0 <= t <= self.steps:
            first = "t = 0 is the first step" if is_t else f"t = 0 is --start {self._start_text()}"
            hint = f"run longer: --steps {t}" if t > self.steps else first
            self.fail("E0904", f"{shown} outside the run's steps t = 0..{self.steps}", span, hint)
            return None
        return t

    def _start_text(self) -> str:
        assert self.start is not None
        return self.start.strftime("%Y-%m") if self.model.time_unit in _CALENDAR_MONTHS else self.start.isoformat()

    def date_step(self, cell: _Cell) -> int | None:
        """The step holding the date of `cell` (calendar months for Month/Quarter/Year models)."""
        m = _DATE.fullmatch(cell.text)
        try:
            if m is None:
                raise ValueError
            date = dt.date(int(m[1]), int(m[2]), int(m[3] or 1))
        except ValueError:
            self.fail("E0904", f"not a date: {cell.text!r}", cell.span(self.file), hint="write YYYY-MM or YYYY-MM-DD")
            return None
        assert self.start is not None  # checked with the header
        unit = self.model.time_unit
        if unit in _CALENDAR_MONTHS:
            months = (date.year - self.start.year) * 12 + date.month - self.start.month
            return months // _CALENDAR_MONTHS[unit]
        return (date - self.start).days // _CLOCK_DAYS[unit]

    def value(self, cell: _Cell, name: str | None, required: bool) -> float | None:
        """The value of a cell in the results' units; else an E0905/E0906 and None."""
        if not cell.text:
            if required:
                self.fail("E0905", "no value", cell.span(self.file))
            return None
        if name is None:  # the variable is refused already
            return None
        var = self.vars.get(name)
        try:
            return parse_value(cell.text, var, self.model)
        except _BadValue as exc:
            self.fail(exc.code, exc.message, cell.span(self.file), exc.hint)
            return None


# ---------------------------------------------------------------------------------------------
# Values with unit text
# ---------------------------------------------------------------------------------------------


class _BadValue(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def parse_value(text: str, var: ir.Var | None, model: ir.Model) -> float:
    """A cell's number in the units the results show (per model step for rates and flows).

    A bare number (`50000`, `50,000`, `50_000`, `-1.5e3`) is taken as it is; unit text must fit the variable's
    declared type: a currency (`$50,000`, `50000 USD`), a percentage (`4.5%`), a duration (`6mo`), a count's entity
    (`800 customers`), a rate or flow per time (`12%/1y`, `$1200/1y`, converted to per step). `var` None (an
    output expression, whose type is not declared) takes bare numbers only."""
    raw = text.strip()
    if var is not None and var.type.kind == "Boolean" and raw.lower() in ("true", "false"):
        return 1.0 if raw.lower() == "true" else 0.0
    m = _VALUE.fullmatch(raw)
    if m is None or (m["sign"] and m["sign2"]):
        raise _BadValue("E0905", f"not a number: {raw!r}",
                        hint="write a number, optionally with the unit the model declares: 50000, \"$50,000\", "
                             "4.5%, 6mo")
    value = float(m["number"].replace(",", "").replace("_", ""))
    if "-" in (m["sign"], m["sign2"]):
        value = -value
    if not math.isfinite(value):
        raise _BadValue("E0905", f"the value must be finite, got {raw!r}")
    unit = _Unit(_SYMBOLS.get(m["symbol"]), bool(m["percent"]))
    if unit.percent:
        value /= 100
    if m["word"]:
        value *= unit.add_word(m["word"], var, model)
    if m["per_unit"]:
        value /= unit.add_per(m["per_n"], m["per_unit"], model)
    if var is not None:
        unit.check(raw, var, model)
    elif unit.written:
        raise _BadValue("E0906", f"{raw!r} has a unit, but this output is an expression without a declared type",
                        hint="write the number alone, in the units the results show")
    return value


class _Unit:
    """The unit text of one value: its currency, %, duration, entity and `/ time` parts."""

    def __init__(self, currency: str | None, percent: bool) -> None:
        self.currency = currency
        self.percent = percent
        self.duration = False
        self.entity: str | None = None
        self.per = False
        if currency and percent:
            raise _BadValue("E0906", "a value cannot be both an amount of money and a percentage")

    def add_word(self, word: str, var: ir.Var | None, model: ir.Model) -> float:
        """Take the word after the number (a currency code, a duration unit, the entity); the factor it scales by."""
        entity = var.type.entity if var is not None else None
        if word in _DURATION_UNITS and not (self.currency or self.percent):
            self.duration = True
            return steps_per(_DURATION_UNITS[word], model)
        if re.fullmatch(r"[A-Z]{3}", word) and not self.percent:
            if self.currency is not None and self.currency != word:
                raise _BadValue("E0906", f"the value says both {self.currency} and {word}")
            self.currency = word
            return 1.0
        if entity is not None and word.lower() in (entity.lower(), entity.lower() + "s") and not self.currency:
            self.entity = entity
            return 1.0
        raise _BadValue("E0906", f"unknown unit {word!r}",
                        hint="units a value may carry: $, €, £ or a currency code (USD), %, a duration (mo, q, y, "
                             "w, d), the entity of a count, and / a time (12%/1y)")

    def add_per(self, n: str | None, name: str, model: ir.Model) -> float:
        """Take a `/ 1y` part; the number of steps it lasts."""
        unit = _UNIT_NAMES.get(name) or _UNIT_NAMES.get(name.lower())
        if unit is None:
            raise _BadValue("E0906", f"unknown time unit {name!r} after /", hint="mo, q, y, w, d, h, min or s")
        if self.duration or self.entity:
            raise _BadValue("E0906", "a duration or a count cannot be per time here")
        count = float(n) if n else 1.0
        if count == 0:
            raise _BadValue("E0905", "division by zero time")
        self.per = True
        return count * steps_per(unit, model)

    @property
    def written(self) -> bool:
        """Whether the value carries any unit text."""
        return bool(self.currency or self.percent or self.duration or self.entity or self.per)

    def describe(self) -> str:
        per = " per time" if self.per else ""
        if self.currency:
            return f"an amount of {self.currency}{per}"
        if self.duration:
            return "a duration"
        if self.entity:
            return f"a count of {self.entity}"
        if self.percent:
            return f"a percentage{per}"
        return "a rate per time"

    def check(self, raw: str, var: ir.Var, model: ir.Model) -> None:
        """E0906 unless the unit text fits the variable's declared type (a bare number always does). A `%` or an
        amount without `/ time` on a rate or flow declared per another unit than the model's step is ambiguous."""
        t = var.type
        timed = t.per in _TIME_UNITS
        if timed and t.per != model.time_unit and (self.currency or self.percent) and not self.per:
            literal = {u: k for k, u in _DURATION_UNITS.items()}
            raise _BadValue("E0906", f"{raw!r} is ambiguous: {var.name} is {t.display}, and the model steps in "
                                     f"{model.time_unit}s",
                            hint=f"say the time: {raw}/1{literal[t.per]} or {raw}/1{literal[model.time_unit]}")
        if self.currency:
            ok = t.currency is not None and (timed or not self.per)
            if ok and t.currency != self.currency:
                raise _BadValue("E0906", f"{var.name} is in {t.currency}; got {raw!r} ({self.currency})")
        elif self.duration:
            ok = t.kind == "Duration"
        elif self.entity:
            ok = t.kind in ("Count", "Capacity")
        elif self.per:
            ok = t.kind == "Rate" and timed
        elif self.percent:
            ok = t.kind in ("Fraction", "Rate") or (t.unit == "" and t.kind not in ("Count", "Capacity", "Boolean"))
        else:
            return
        if not ok:
            raise _BadValue("E0906", f"{raw!r} is {self.describe()}, but {var.name} is {t.display}",
                            hint="write the number alone, in the units the results show (per "
                                 "model step for rates and flows), or with the unit the variable declares")
