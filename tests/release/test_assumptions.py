"""`pel assumptions`: the assumption register as markdown and JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pel.cli import main
from tests.release.sources import AUDIT, write


@pytest.fixture(scope="module")
def audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("register"), "audit.pel", AUDIT)


def test_json_register(audit: Path, capsys) -> None:
    assert main(["assumptions", str(audit), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "Audit" and data["model_hash"].startswith("sha256:")
    rows = {a["name"]: a for a in data["assumptions"]}
    assert list(rows) == ["price", "guess", "hunch", "spare", "odd"]
    assert (rows["price"]["value"], rows["price"]["validated"], rows["price"]["freshness"]) == ("$10", "2026-01-15",
                                                                                                "P3M")
    assert rows["guess"]["method"] == "assumption" and rows["guess"]["confidence"] == 0.4
    assert data["assumption_completeness_score"] == pytest.approx(2 / 5)


def test_markdown_register_subprocess(audit: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pel.cli", "assumptions", str(audit)], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "# Assumption register: Audit"
    assert "| `price` | Currency<USD> | $10 | price_list | observed | 0.9 | P3M | 2026-01-15 | pricing | — |" in lines
    assert sum(1 for line in lines if line.startswith("| `")) == 5


def test_distribution_and_missing_file(tmp_path: Path, capsys) -> None:
    from tests.release.sources import UNCERTAIN

    model = write(tmp_path, "u.pel", UNCERTAIN)
    assert main(["assumptions", str(model), "--format", "json"]) == 0
    growth = json.loads(capsys.readouterr().out)["assumptions"][1]
    assert growth["value"] is None and growth["distribution"].startswith("Normal(")
    assert growth["central"] == pytest.approx(0.05)
    assert main(["assumptions", str(tmp_path / "nope.pel")]) == 1
    assert "error[E0010]" in capsys.readouterr().err
