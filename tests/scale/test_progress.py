"""The progress bar: drawing, the 1 s grace period, and the CLI's choice (a terminal on stderr, no --quiet)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pel.progress import ProgressBar

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "saas.pel"


def test_bar_draws_rate_and_eta_and_ends_the_line() -> None:
    out = io.StringIO()
    with ProgressBar(delay=0.0, stream=out) as bar:
        bar.update(4096, 20000)
        bar.update(8192, 20000)  # within 0.1 s of the last draw: skipped
        bar.update(20000, 20000)  # the last one is always drawn
    text = out.getvalue()
    assert "4,096/20,000 paths" in text and "20,000/20,000 paths" in text and "8,192" not in text
    assert "paths/s" in text and "ETA" in text and text.endswith("\n")


def test_bar_silent_when_disabled_or_short() -> None:
    out = io.StringIO()
    with ProgressBar(enabled=False, delay=0.0, stream=out) as bar:
        bar.update(1, 2)
    with ProgressBar(delay=60.0, stream=out) as bar:  # a run shorter than the grace period
        bar.update(1, 2)
        bar.update(2, 2)
    assert out.getvalue() == ""


def test_library_callback_sees_every_block_in_order() -> None:
    import pel

    seen: list[tuple[int, int]] = []
    pel.compile(str(MODEL)).run("monte_carlo", runs=10_000, steps=6, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4096, 10_000), (8192, 10_000), (10_000, 10_000)]


_DRIVER = (
    "import sys; from pel.progress import ProgressBar; "
    "ProgressBar.__init__.__defaults__ = (True, 0.0, None); "  # no grace period: the test run is short
    "from pel.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _run_with_pty_stderr(*args: str) -> tuple[int, str]:
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-c", _DRIVER, *args], stdout=subprocess.DEVNULL,
                                stderr=slave, cwd=REPO)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=120)
    finally:
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_cli_draws_on_a_terminal_unless_quiet() -> None:
    args = ("run", str(MODEL), "--mode", "monte_carlo", "--runs", "20000", "--steps", "6")
    code, text = _run_with_pty_stderr(*args)
    assert code == 0 and "20,000/20,000 paths" in text and "paths/s" in text
    code, text = _run_with_pty_stderr(*args, "--quiet")
    assert code == 0 and "paths/s" not in text


def test_cli_silent_when_stderr_is_not_a_terminal() -> None:
    proc = subprocess.run([sys.executable, "-c", _DRIVER, "run", str(MODEL), "--mode", "monte_carlo",
                           "--runs", "20000", "--steps", "6"], capture_output=True, text=True, cwd=REPO,
                          timeout=120)
    assert proc.returncode == 0 and "paths/s" not in proc.stderr


def _fresh_model(tmp_path: Path, n: int) -> Path:
    """A model of `n` chained variables whose code no kernel cache holds yet (a constant unique to this run)."""
    salt = int.from_bytes(os.urandom(4), "little") % 1_000_000
    body = "".join(f"  var x{k} = x{k - 1} * 1.001 + {salt}\n" for k in range(1, n))
    path = tmp_path / "fresh.pel"
    path.write_text(f"model Fresh {{\n  var x0 = {salt}\n{body}}}\n", encoding="utf-8")
    return path


def test_library_hears_the_compile_stage_by_model_items(tmp_path: Path) -> None:
    import pel

    seen: list[tuple[str, int, int]] = []
    model = pel.compile(str(_fresh_model(tmp_path, 60)))
    model.run(steps=2, compile_progress=lambda stage, done, total: seen.append((stage, done, total)))
    assert seen, "a cold compile reported nothing"
    assert {s for s, _, _ in seen} == {"compiling kernels"}
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and seen[-1][1] == seen[-1][2] >= 60  # every item, in the end
    seen.clear()
    model.run(steps=2, compile_progress=lambda *a: seen.append(a))  # compiled already: nothing to hear
    assert seen == []


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pty")
def test_cli_shows_the_compile_stage_on_a_terminal(tmp_path: Path) -> None:
    code, text = _run_with_pty_stderr("run", str(_fresh_model(tmp_path, 40)), "--steps", "2",
                                      "-o", str(tmp_path / "r.json"))
    assert code == 0 and "compiling kernels:" in text and "model items" in text
