"""The production tutorial works verbatim: its model and its pytest file, taken from the tutorial at test time."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import shared_dir

TUTORIAL = ("seed", "tutorial_10_production_deployment.md")


def _heredoc(text: str, target: str) -> str:
    """The body of `cat > TARGET << 'EOF' … EOF` in the tutorial's bash blocks."""
    match = re.search(rf"cat > {re.escape(target)} << 'EOF'\n(.*?)\nEOF\n", text, re.S)
    assert match, f"the tutorial no longer writes {target}"
    return match.group(1) + "\n"


def _python_block(text: str, marker: str) -> str:
    """The ```python block that starts with the comment `# marker`."""
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        if block.lstrip().startswith(f"# {marker}"):
            return block
    raise AssertionError(f"the tutorial has no python block for {marker}")


def test_tutorial_pytest_file_passes(tmp_path: Path) -> None:
    text = shared_dir(*TUTORIAL).read_text(encoding="utf-8")
    (tmp_path / "models").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "models" / "revenue_forecast.pel").write_text(_heredoc(text, "models/revenue_forecast.pel"))
    test_src = _python_block(text, "tests/test_revenue_forecast.py")
    (tmp_path / "tests" / "test_revenue_forecast.py").write_text(test_src)
    pel_bin = shutil.which("pel", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    assert pel_bin, "the `pel` command is not installed"
    env = dict(os.environ, PATH=os.path.dirname(pel_bin) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "tests/"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    n_tests = len(re.findall(r"^\s+def test_", test_src, re.M))
    assert f"{n_tests} passed" in proc.stdout, proc.stdout
