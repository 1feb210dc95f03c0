"""docs/release.md's release workflow, run as written: a model repository, a branch, `pel diff`, `pel release`, a
smoke test, a shadow, a 10% canary, the metrics, promote and roll back against a live `pel serve --releases`. The
bash block is taken from the document verbatim; only the port is changed to a free one."""

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
    section = text[text.index("### The release workflow"):]
    m = re.search(r"```bash\n(.*?)```", section, re.S)
    assert m is not None, "no bash block in the release workflow section"
    return m.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_release_workflow_runs_as_written(tmp_path: Path) -> None:
    for tool in ("curl", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the documented workflow uses it")
    block = _block((REPO / "docs" / "release.md").read_text(encoding="utf-8"))
    port = _free_port()
    script = block.replace("127.0.0.1:8000", f"127.0.0.1:{port}").replace("pel serve ", f"pel serve --port {port} ")
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, target in (("pel", f'"{sys.executable}" -m pel.cli "$@"'), ("python", f'"{sys.executable}" "$@"')):
        path = shims / name
        path.write_text(f"#!/bin/sh\nexec {target}\n")
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(REPO),
           "GIT_AUTHOR_NAME": "Analyst", "GIT_AUTHOR_EMAIL": "analyst@example.com",
           "GIT_COMMITTER_NAME": "Analyst", "GIT_COMMITTER_EMAIL": "analyst@example.com",
           "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "LC_ALL": "C.UTF-8"}
    for name in ("PEL_STATE", "PEL_API_TOKEN", "PEL_ADMIN_TOKEN"):
        env.pop(name, None)
    wrapped = "set -eu\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n" + script
    proc = subprocess.run(["bash", "-c", wrapped], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "E9999" not in out
    repo = tmp_path / "my-pel-models"
    versions = sorted(p.name.removesuffix(".ir.json") for p in (repo / "releases" / "SubscriptionForecast")
                      .glob("*.ir.json"))
    assert len(versions) == 2 and versions[0] == "1.0.0", out
    new = versions[1]
    tags = subprocess.run(["git", "tag"], cwd=repo, env=env, capture_output=True, text=True).stdout.split()
    assert sorted(tags) == ["v1.0.0", f"v{new}"]
    assert "smoke test: HTTP 200" in out
    assert re.search(rf'^pel_shadow_divergence\{{model="SubscriptionForecast",version="{re.escape(new)}"\}} \S+$',
                     out, re.M), out
    assert f"canary {new} (10% of requests)" in out
    assert re.search(r'^pel_executions_total\{mode="deterministic",model="SubscriptionForecast",status="success",'
                     rf'version="{re.escape(new)}"\}} [1-9]', out, re.M), out
    assert f"SubscriptionForecast: active {new}\n  rollback goes to 1.0.0" in out
    assert proc.stdout.rstrip().endswith("SubscriptionForecast: active 1.0.0")
