"""The state folder: estimates recorded by `pel calibrate|drift --state`, the latest of each parameter shown by
`pel assumptions --state` beside its declared value, and the refusal of a database PEL did not write."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from pel.cli import main
from pel.monitor.state import FILE_NAME, Fitted, StateError, StateStore
from tests.monitor.fit_models import compounding, csv, growth_model
from tests.monitor.models import write


def _fitted(parameter: str, value: float, at: str, kind: str = "calibrate") -> Fitted:
    return Fitted(parameter, value, 0.01, (value - 0.02, value + 0.02), "1/Month", 0.05, (value - 0.05) / 0.01,
                  kind, "ok" if kind == "drift" else None, None if kind == "calibrate" else (6, 11), 12, "d.csv",
                  "ab" * 32, "sha256:x", at)


def test_records_round_trip_and_the_latest_wins(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.record("m", [_fitted("growth", 0.05, "2026-10-01T00:00:00Z"), _fitted("churn", 0.02, "2026-10-01T00:00:00Z")])
    store.record("m", [_fitted("growth", 0.04, "2026-11-01T00:00:00Z", kind="drift")])
    store.record("other", [_fitted("growth", 0.09, "2026-12-01T00:00:00Z")])
    latest = store.latest("m")
    assert set(latest) == {"growth", "churn"}
    assert latest["growth"] == _fitted("growth", 0.04, "2026-11-01T00:00:00Z", kind="drift")
    assert [f.value for f in store.history("m", "growth")] == [0.05, 0.04]
    store.close()
    again = StateStore(tmp_path)  # kept on disk
    assert again.latest("m")["churn"].value == 0.02 and again.latest("nobody") == {}
    again.close()


def test_a_foreign_database_or_record_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / FILE_NAME).write_bytes(b"not sqlite at all " * 10)
    with pytest.raises(StateError) as exc:
        StateStore(tmp_path / "a")
    assert exc.value.diagnostics[0].code == "E0914"
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(StateError, match="version 99"):
        StateStore(tmp_path)
    (tmp_path / "b").mkdir()
    store = StateStore(tmp_path / "b")
    store._db.execute("INSERT INTO estimates (model, parameter, record) VALUES ('m', 'g', '{\"value\": 1}')")
    with pytest.raises(StateError, match="estimate #1 is not a record PEL wrote") as exc:
        store.latest("m")
    assert exc.value.diagnostics[0].code == "E0914"
    store.close()
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="not a folder"):
        StateStore(tmp_path / "file")


def test_calibrate_and_drift_record_and_assumptions_show_the_latest(tmp_path: Path, capsys) -> None:
    model = write(tmp_path, "growth.pel", growth_model())
    data = write(tmp_path, "data.csv", csv({"mrr": compounding(50_000, [0.05] * 12 + [0.03] * 12)}))
    state = tmp_path / "state"
    assert main(["calibrate", str(model), "--data", str(data), "--fit", "growth", "--state", str(state)]) == 0
    assert "recorded 1 estimate(s) of 'growth' in" in capsys.readouterr().out
    assert main(["assumptions", str(model), "--state", str(state), "--format", "json"]) == 0
    rows = {a["name"]: a for a in json.loads(capsys.readouterr().out)["assumptions"]}
    fitted = rows["growth"]["fitted"]
    assert fitted["kind"] == "calibrate" and fitted["window"] is None and fitted["n"] == 25
    assert 0.03 < fitted["value"] < 0.05 and fitted["declared"] == pytest.approx(0.05)
    assert fitted["data"] == str(data) and len(fitted["data_sha256"]) == 64
    assert rows["initial_mrr"]["fitted"] is None
    # a drift check afterwards is the latest; PEL_STATE stands for --state
    code = main(["drift", str(model), "--data", str(data), "--fit", "growth,initial_mrr", "--window", "6",
                 "--stride", "6", "--state", str(state)])
    assert code == 0
    capsys.readouterr()
    assert main(["assumptions", str(model), "--state", str(state)]) == 0
    md = capsys.readouterr().out
    assert "| Parameter | Type | Value | Fitted | Source |" in md
    line = next(row for row in md.splitlines() if row.startswith("| `growth`"))
    assert "(drift check: drifted, " in line and "0.03 ± " in line
    # without --state the register has no Fitted column (what `pel init` writes stays as it was)
    assert main(["assumptions", str(model)]) == 0
    assert "Fitted" not in capsys.readouterr().out


def test_a_failed_fit_records_nothing_and_says_so(tmp_path: Path, capsys) -> None:
    model = write(tmp_path, "growth.pel", growth_model())
    data = write(tmp_path, "data.csv", csv({"mrr": compounding(48_000, [0.03] * 24)}))
    state = tmp_path / "state"
    code = main(["calibrate", str(model), "--data", str(data), "--fit", "growth,initial_mrr", "--max-evals", "1",
                 "--state", str(state)])
    assert code == 7
    assert "nothing recorded in" in capsys.readouterr().out
    store = StateStore(state)
    assert store.latest("growth") == {}
    store.close()


def test_the_name_option_and_a_bad_state_are_handled(tmp_path: Path, capsys) -> None:
    model = write(tmp_path, "growth.pel", growth_model())
    data = write(tmp_path, "data.csv", csv({"mrr": compounding(50_000, [0.05] * 24)}))
    state = tmp_path / "state"
    assert main(["calibrate", str(model), "--data", str(data), "--fit", "growth", "--state", str(state),
                 "--name", "prod-growth"]) == 0
    capsys.readouterr()
    store = StateStore(state)
    assert set(store.latest("prod-growth")) == {"growth"} and store.latest("growth") == {}
    store.close()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / FILE_NAME).write_bytes(b"garbage " * 40)
    code = main(["assumptions", str(model), "--state", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert code != 0 and "error[E0914]" in err and "Traceback" not in err
