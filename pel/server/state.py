"""The server's state: actuals (observed values of models' outputs) posted to `/models/{name}/actuals`, kept in
SQLite — a file `actuals.sqlite3` in `pel serve --state DIR` (WAL mode, kept across restarts), else an in-memory
database that lives as long as the process.

One connection serves every thread, each statement under a lock (requests write from the event loop's worker
threads); WAL mode and a busy timeout let another process (a second server on the same folder, a backup) read
and write the file at the same time. A row is keyed by (model, t, variable): posting a value for a step and
variable already held replaces it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from pathlib import Path

FILE_NAME = "actuals.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS actuals (
    model TEXT NOT NULL,
    t INTEGER NOT NULL,
    variable TEXT NOT NULL,
    value REAL NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (model, t, variable)
)
"""


class ActualsStore:
    """Actuals per model URL name: (t, variable) -> value, with the time each was received."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.path = None if state_dir is None else Path(state_dir) / FILE_NAME
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path), check_same_thread=False,
                                   timeout=30.0, isolation_level=None)
        with self._lock:
            if self.path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)

    def put(self, model: str, rows: Iterable[tuple[int, str, float]]) -> tuple[int, int]:
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

    def rows(self, model: str) -> list[tuple[int, str, float]]:
        """The actuals held for `model`: (t, variable, value), by variable then t."""
        with self._lock:
            cur = self._db.execute("SELECT t, variable, value FROM actuals WHERE model = ? ORDER BY variable, t",
                                   (model,))
            return [(int(t), str(v), float(x)) for t, v, x in cur.fetchall()]

    def count(self, model: str) -> int:
        with self._lock:
            (n,) = self._db.execute("SELECT COUNT(*) FROM actuals WHERE model = ?", (model,)).fetchone()
        return int(n)

    def close(self) -> None:
        with self._lock:
            self._db.close()
