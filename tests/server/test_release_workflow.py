"""docs/release.md's release workflow, run as written: a model repository, a branch, `pel diff`, `pel release`, a
smoke test, a shadow, a 10% canary, the metrics, promote and roll back against a live `pel serve --releases`. The
bash block is taken from the document verbatim; only the port is changed to a free one."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docblocks import bash_block, run_block

pytest.importorskip("fastapi")


@pytest.mark.slow
def test_the_release_workflow_runs_as_written(tmp_path: Path) -> None:
    for tool in ("curl", "git"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the documented workflow uses it")
    block = bash_block("release.md", "### The release workflow")
    env = {"GIT_AUTHOR_NAME": "Analyst", "GIT_AUTHOR_EMAIL": "analyst@example.com",
           "GIT_COMMITTER_NAME": "Analyst", "GIT_COMMITTER_EMAIL": "analyst@example.com",
           "GIT_CONFIG_GLOBAL": str(tmp_path / "gitconfig"), "LC_ALL": "C.UTF-8"}
    proc = run_block(block, tmp_path, env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "E9999" not in out
    repo = tmp_path / "my-pel-models"
    versions = sorted(p.name.removesuffix(".ir.json") for p in (repo / "releases" / "SubscriptionForecast")
                      .glob("*.ir.json"))
    assert len(versions) == 2 and versions[0] == "1.0.0", out
    new = versions[1]
    tags = subprocess.run(["git", "tag"], cwd=repo, env={**os.environ, **env}, capture_output=True,
                          text=True).stdout.split()
    assert sorted(tags) == ["v1.0.0", f"v{new}"]
    assert "smoke test: HTTP 200" in out
    assert re.search(rf'^pel_shadow_divergence\{{model="SubscriptionForecast",version="{re.escape(new)}"\}} \S+$',
                     out, re.M), out
    assert f"canary {new} (10% of requests)" in out
    assert re.search(r'^pel_executions_total\{mode="deterministic",model="SubscriptionForecast",status="success",'
                     rf'version="{re.escape(new)}"\}} [1-9]', out, re.M), out
    assert f"SubscriptionForecast: active {new}\n  rollback goes to 1.0.0" in out
    assert proc.stdout.rstrip().endswith("SubscriptionForecast: active 1.0.0")
