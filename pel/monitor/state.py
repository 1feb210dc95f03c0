"""A state folder: the actuals posted to `pel serve` and the parameter estimates of calibrations and drift checks,
in one SQLite database `state.sqlite3` (`pel serve --state DIR`, `pel calibrate|drift|assumptions --state DIR`).

One connection serves every thread, each statement under a lock (the server writes from its worker threads); WAL
mode and a busy timeout let other processes (a second server on the folder, a `pel calibrate` from cron, a
backup) read and write the file at the same time. Without a folder the database lives in memory, as long as the
process. Records are keyed by the model's name in the state: the file name without its suffix, as `pel serve`
names it (`pel.pipeline.model_stem`).

- actuals: (model, t, variable) -> value; posting a value for a step and variable already held replaces it.
- estimates: every estimate of a converged, identified fit, in order; the assumption register shows the latest of
  each parameter beside its declared value.
- rollouts: per released model served by `pel serve --releases`, the active version, the earlier active versions
  (a rollback returns to the last), the canary and its weight, the shadow and its weight.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pel.diagnostics import PelError, Span, simple

if TYPE_CHECKING:
    from pel.monitor.calibrate import Calibration
    from pel.monitor.drift import DriftReport

FILE_NAME = "state.sqlite3"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actuals (
    model TEXT NOT NULL,
    t INTEGER NOT NULL,
    variable TEXT NOT NULL,
    value REAL NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (model, t, variable)
);
CREATE TABLE IF NOT EXISTS estimates (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    parameter TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS estimates_by_parameter ON estimates (model, parameter, id);
CREATE TABLE IF NOT EXISTS rollouts (
    model TEXT PRIMARY KEY,
    active TEXT NOT NULL,
    previous TEXT NOT NULL,
    canary TEXT,
    canary_weight REAL NOT NULL,
    shadow TEXT,
    shadow_weight REAL NOT NULL,
    updated_at TEXT NOT NULL
);
"""


class StateError(PelError):
    """The state folder's database cannot be used: not a folder, a damaged or foreign file, a record PEL did not
    write."""

    phase = "state"


@dataclass(frozen=True)
class Fitted:
    """One parameter's estimate as the state keeps it: from `pel calibrate` (kind "calibrate") or the latest window
    of a drift check (kind "drift": `pel drift`, `GET /models/{name}/drift`)."""

    parameter: str
    value: float  # in the declared unit
    std_error: float | None
    ci95: tuple[float, float] | None
    unit: str
    declared: float  # the declared value (a distribution's central value) the fit was judged against
    distance_se: float | None  # (value - declared) / std_error
    kind: str  # "calibrate" | "drift"
    verdict: str | None  # drift: "drift", "ok" or "unknown"; None for a calibration
    window: tuple[int, int] | None  # the steps fitted (None: every observation)
    n: int  # observations fitted
    data: str  # the data file, or /models/{name}/actuals
    data_sha256: str | None
    model_hash: str
    at: str  # when, ISO 8601 UTC to the second

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci95"] = None if self.ci95 is None else [_num(x) for x in self.ci95]
        d["window"] = None if self.window is None else list(self.window)
        for k in ("value", "std_error", "declared", "distance_se"):
            d[k] = _num(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fitted:
        """The record `to_dict` wrote; ValueError/KeyError/TypeError for anything else."""
        ci, window = d["ci95"], d["window"]
        return cls(str(d["parameter"]), float(d["value"]), _opt(d["std_error"]),
                   None if ci is None else (float(ci[0]), float(ci[1])), str(d["unit"]), float(d["declared"]),
                   _opt(d["distance_se"]), str(d["kind"]), None if d["verdict"] is None else str(d["verdict"]),
                   None if window is None else (int(window[0]), int(window[1])), int(d["n"]), str(d["data"]),
                   None if d["data_sha256"] is None else str(d["data_sha256"]), str(d["model_hash"]), str(d["at"]))


@dataclass(frozen=True)
class Rollout:
    """Which released versions of one model a server routes requests to (`pel serve --releases`)."""

    model: str  # the model's URL name: its folder in the release folder
    active: str  # the version that answers requests (X.Y.Z)
    previous: tuple[str, ...] = ()  # earlier active versions, oldest first: a rollback returns to the last one
    canary: str | None = None  # a version that answers `canary_weight` percent of requests
    canary_weight: float = 0.0
    shadow: str | None = None  # a version run beside the active one on `shadow_weight` percent of its requests
    shadow_weight: float = 0.0
    updated_at: str = ""  # when it last changed, ISO 8601 UTC to the second

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "active": self.active, "previous": list(self.previous),
                "canary": None if self.canary is None else {"version": self.canary, "weight": self.canary_weight},
                "shadow": None if self.shadow is None else {"version": self.shadow, "weight": self.shadow_weight},
                "updated_at": self.updated_at}


def now_utc() -> str:
    """The current time as the records write it: `2026-12-07T17:30:05Z`."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_calibration(cal: Calibration, at: str) -> list[Fitted]:
    """The estimates of a calibration as records (none unless it converged and identifies every parameter)."""
    from pel.monitor.drift import distance

    if not cal.ok:
        return []
    s = cal.settings
    return [Fitted(e.name, e.value, e.std_error, e.ci95, e.unit, e.declared,
                   distance(e.value, e.declared, e.std_error), "calibrate", None, cal.window, cal.n, s.data_file,
                   s.data_sha256, s.model_hash, at) for e in cal.estimates]


def from_drift(report: DriftReport, at: str) -> list[Fitted]:
    """The latest window's estimates of a drift check, with their verdicts (none unless that fit is sound)."""
    if not report.latest_ok:
        return []
    s = report.settings
    out = []
    for p in report.parameters:
        e = p.latest
        if e is None:
            continue
        out.append(Fitted(p.name, e.value, e.std_error, e.ci95, p.unit, p.declared, p.distance, "drift",
                          p.verdict, (e.start, e.end), e.n, s.data_file, s.data_sha256, s.model_hash, at))
    return out


class StateStore:
    """The state database of a folder (None: in memory)."""

    def __init__(self, state_dir: str | Path | None = None) -> None:
        self.path = None if state_dir is None else Path(state_dir) / FILE_NAME
        self._lock = threading.Lock()
        where = "" if self.path is None else str(self.path)
        try:
            if self.path is not None:
                if self.path.parent.exists() and not self.path.parent.is_dir():
                    raise StateError(simple("E0914", f"{self.path.parent} is not a folder", Span(where, 0, 0, 0, 0)))
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path), check_same_thread=False,
                                       timeout=30.0, isolation_level=None)
            with self._lock:
                if self.path is not None:
                    self._db.execute("PRAGMA journal_mode=WAL")
                    self._db.execute("PRAGMA synchronous=NORMAL")
                (version,) = self._db.execute("PRAGMA user_version").fetchone()
                if version not in (0, SCHEMA_VERSION):
                    raise StateError(simple("E0914", f"{where}: a state database of version {version}, not "
                                                     f"{SCHEMA_VERSION}: written by another PEL release",
                                            Span(where, 0, 0, 0, 0)))
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise StateError(simple("E0914", f"the state database {where or '(memory)'} cannot be used: {exc}",
                                    Span(where, 0, 0, 0, 0),
                                    hint="move the file away (a new one is then started) or restore it from a "
                                         "backup")) from None

    # actuals --------------------------------------------------------------------------------

    def put_actuals(self, model: str, rows: Iterable[tuple[int, str, float]]) -> tuple[int, int]:
        """Store `rows` (t, variable, value) of `model` in one transaction, replacing the values held for the
        same (t, variable); the number of rows stored and the number now held for the model."""
        now = time.time()
        data = [(model, int(t), variable, float(value), now) for t, variable, value in rows]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO actuals (model, t, variable, value, received_at) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (model, t, variable) DO UPDATE SET value = excluded.value, "
                    "received_at = excluded.received_at", data)
                (total,) = self._db.execute("SELECT COUNT(*) FROM actuals WHERE model = ?", (model,)).fetchone()
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(data), int(total)

    def actuals(self, model: str) -> list[tuple[int, str, float]]:
        """The actuals held for `model`: (t, variable, value), by variable then t."""
        with self._lock:
            cur = self._db.execute("SELECT t, variable, value FROM actuals WHERE model = ? ORDER BY variable, t",
                                   (model,))
            return [(int(t), str(v), float(x)) for t, v, x in cur.fetchall()]

    def count_actuals(self, model: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM actuals WHERE model = ?", (model,)).fetchone()
        return int(n)

    # estimates ------------------------------------------------------------------------------

    def record(self, model: str, fitted: Iterable[Fitted]) -> int:
        """Append estimates of `model` in one transaction; how many."""
        rows = [(model, f.parameter, json.dumps(f.to_dict(), allow_nan=False, sort_keys=True)) for f in fitted]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT INTO estimates (model, parameter, record) VALUES (?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return len(rows)

    def latest(self, model: str) -> dict[str, Fitted]:
        """The latest estimate of each parameter of `model`; E0914 for a record PEL did not write."""
        with self._lock:
            cur = self._db.execute(
                "SELECT id, parameter, record FROM estimates WHERE id IN "
                "(SELECT MAX(id) FROM estimates WHERE model = ? GROUP BY parameter) ORDER BY parameter", (model,))
            rows = cur.fetchall()
        return {str(p): self._decode(i, r) for i, p, r in rows}

    def history(self, model: str, parameter: str) -> list[Fitted]:
        """Every estimate of one parameter, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT id, record FROM estimates WHERE model = ? AND parameter = ? ORDER BY id",
                                    (model, parameter)).fetchall()
        return [self._decode(i, r) for i, r in rows]

    # rollouts -------------------------------------------------------------------------------

    def rollouts(self) -> dict[str, Rollout]:
        """The rollout state of every model that has one; E0914 for a row PEL did not write."""
        with self._lock:
            rows = self._db.execute("SELECT model, active, previous, canary, canary_weight, shadow, shadow_weight, "
                                    "updated_at FROM rollouts ORDER BY model").fetchall()
        return {str(r[0]): self._rollout(r) for r in rows}

    def change_rollout(self, model: str,
                       change: Callable[[Rollout | None], Rollout | None]) -> Rollout | None:
        """Read the rollout state of `model` (None: it has none), apply `change` and store what it returns (None:
        keep the row as it is), all in one transaction, so that two servers sharing the folder never lose one
        another's change; the state now held. An exception from `change` leaves the row as it was."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT model, active, previous, canary, canary_weight, shadow, "
                                       "shadow_weight, updated_at FROM rollouts WHERE model = ?", (model,)).fetchone()
                held = None if row is None else self._rollout(row)
                new = change(held)
                if new is not None:
                    new = replace(new, model=model, updated_at=now_utc())
                    self._db.execute(
                        "INSERT OR REPLACE INTO rollouts (model, active, previous, canary, canary_weight, shadow, "
                        "shadow_weight, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (model, new.active, json.dumps(list(new.previous)), new.canary, float(new.canary_weight),
                         new.shadow, float(new.shadow_weight), new.updated_at))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return held if new is None else new

    def _rollout(self, row: tuple) -> Rollout:
        model, active, previous, canary, canary_weight, shadow, shadow_weight, at = row
        try:
            earlier = json.loads(previous)
            if not isinstance(earlier, list) or not all(isinstance(v, str) for v in earlier):
                raise ValueError("previous is not a list of versions")
            return Rollout(str(model), str(active), tuple(earlier), None if canary is None else str(canary),
                           float(canary_weight), None if shadow is None else str(shadow), float(shadow_weight),
                           str(at))
        except (ValueError, TypeError) as exc:
            where = str(self.path or "(memory)")
            raise StateError(simple("E0914", f"{where}: the rollout state of {model} is not a record PEL wrote "
                                             f"({exc})", Span(where, 0, 0, 0, 0),
                                    hint="delete the row, or move the database away")) from None

    def _decode(self, row_id: int, text: Any) -> Fitted:
        try:
            return Fitted.from_dict(json.loads(text))
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            where = str(self.path or "(memory)")
            raise StateError(simple("E0914", f"{where}: estimate #{row_id} is not a record PEL wrote ({exc})",
                                    Span(where, 0, 0, 0, 0),
                                    hint="delete the row, or move the database away")) from None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)
