"""docs/monitoring.md's monthly loop, run as written: deploy, post actuals, watch accuracy and drift, recalibrate,
release. The bash block is taken from the document verbatim; only the port is changed to a free one."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.docblocks import bash_block, run_block

pytest.importorskip("fastapi")


@pytest.mark.slow
def test_the_monthly_loop_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the documented loop uses it")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    proc = run_block(bash_block("monitoring.md", "### The monthly loop"), tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "E9999" not in out
    # what the document says the loop shows
    assert '"stored":9,"total":9' in out
    assert re.search(r'"mape": 0\.0186', out), out
    assert '"drifted": [\n        "monthly_growth"' in out or '"monthly_growth"' in out
    assert "monthly_growth  0.0719307" in out and "wrote deploy/revenue_forecast.pel" in out
    assert "| Fitted |" in out and "(calibrated, " in out
    assert "Required version bump: MAJOR" in out
    released = list((tmp_path / "releases").rglob("*.ir.json"))
    assert [p.name for p in released] == ["1.0.0.ir.json"], out
    source = (tmp_path / "deploy" / "revenue_forecast.pel").read_text()
    assert "0.07193071744 / 1mo" in source and 'method: "fitted"' in source
