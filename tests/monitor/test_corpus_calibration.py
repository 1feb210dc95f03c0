"""The corpus' calibration example end to end: `example_calibration_saas_churn.pel` is refused as its label says
(a dialect PEL does not parse), and PEL's reading of it (tests/monitor/saas_churn.pel) is calibrated, checked for
drift, recorded and shown in the register through the command line, recovering the parameters that made the data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pel
from pel.cli import main
from tests.conftest import shared_dir

MODEL = Path(__file__).with_name("saas_churn.pel")
TRUE = {"monthly_churn_rate": 0.06, "monthly_new_customers": 140.0, "monthly_revenue_per_customer": 55.0}
OUTPUTS = ("final_customers", "total_churned", "total_revenue_12m")


def _data(folder: Path, noise: float) -> Path:
    """The model's outputs at TRUE, each value times (1 + noise · N(0, 1)), as a wide CSV."""
    result = pel.load(MODEL).run("deterministic", params=TRUE)
    rng = np.random.default_rng(7)
    lines = ["t," + ",".join(OUTPUTS)]
    for t in range(13):
        cells = [repr(float(result[v].value[t]) * (1 + noise * rng.standard_normal())) for v in OUTPUTS]
        lines.append(f"{t}," + ",".join(cells))
    path = folder / "history.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_corpus_file_is_refused_as_labelled(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_dir("corpus", "models", "example_calibration_saas_churn.pel")
    label = next(line.split("\t") for line in (path.parent / "LABELS.tsv").read_text().splitlines()
                 if line.startswith(path.name + "\t"))
    assert label[2:4] == ["error", "E0005"]
    assert main(["check", str(path)]) == 1
    assert "error[E0005]" in capsys.readouterr().err


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_calibrated_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str], noise: float) -> None:
    data = _data(tmp_path, noise)
    state = tmp_path / "state"
    fit = ",".join(TRUE)
    code = main(["calibrate", str(MODEL), "--data", str(data), "--fit", fit, "--format", "json", "--state", str(state)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["ok"] is True, report
    for name, true in TRUE.items():
        p = report["parameters"][name]
        if noise == 0:
            assert p["value"] == pytest.approx(true, rel=1e-6)
        else:  # the truth lies within the 95% interval, and the interval is narrow
            lo, hi = p["ci95"]
            assert lo <= true <= hi and (hi - lo) < 0.1 * true
    # the declared assumptions are distributions: --write is refused, a drift check judges against P5-P95
    assert main(["calibrate", str(MODEL), "--data", str(data), "--fit", "monthly_churn_rate", "--write"]) == 1
    assert "error[E0910]" in capsys.readouterr().err
    code = main(["drift", str(MODEL), "--data", str(data), "--fit", fit, "--window", "6", "--stride", "6",
                 "--format", "json", "--state", str(state)])
    drift = json.loads(capsys.readouterr().out)
    assert code == 0
    churn = drift["parameters"]["monthly_churn_rate"]
    assert churn["p5"] == pytest.approx(0.017191, rel=1e-4) and churn["p95"] == pytest.approx(0.206725, rel=1e-4)
    assert churn["verdict"] == "ok"  # 6% lies inside Beta(2, 20)'s P5-P95
    assert drift["parameters"]["monthly_new_customers"]["verdict"] == "drift"  # 140 is above Normal(100, 20)'s P95 (132.9)
    assert main(["assumptions", str(MODEL), "--state", str(state), "--format", "json"]) == 0
    register = {a["name"]: a for a in json.loads(capsys.readouterr().out)["assumptions"]}
    assert register["monthly_churn_rate"]["fitted"]["kind"] == "drift"
    assert register["monthly_churn_rate"]["fitted"]["value"] == pytest.approx(0.06, rel=0.05)
    assert register["avg_customer_lifetime_months"]["fitted"] is None
