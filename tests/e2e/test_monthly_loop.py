"""docs/monitoring.md's monthly loop, run as written: deploy, post actuals, watch accuracy and drift, recalibrate,
release. The bash block is taken from the document verbatim; only the port is changed to a free one."""

from __future__ import annotations

import os
import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("fastapi")


def _block(text: str) -> str:
    section = text[text.index("### The monthly loop"):]
    m = re.search(r"```bash\n(.*?)```", section, re.S)
    assert m is not None, "no bash block in the monthly loop section"
    return m.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_monthly_loop_runs_as_written(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the documented loop uses it")
    block = _block((REPO / "docs" / "monitoring.md").read_text(encoding="utf-8"))
    port = _free_port()
    script = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("pel serve ", f"pel serve --port {port} ")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, target in (("pel", f'"{sys.executable}" -m pel.cli "$@"'), ("python", f'"{sys.executable}" "$@"')):
        path = shims / name
        path.write_text(f"#!/bin/sh\nexec {target}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO)}
    env.pop("PEL_STATE", None)
    wrapped = "set -eu\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    proc = subprocess.run(["bash", "-c", wrapped], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
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
