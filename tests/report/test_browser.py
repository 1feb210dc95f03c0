"""A report looked at in a real browser: headless Chromium renders it, a screenshot shows drawn charts (kept as a
test artifact, its path printed), and the browser's DOM holds one SVG per chart."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pel.report import build
from tests.report.common import SAAS, Page, saas_mc

pytest.importorskip("matplotlib", reason="the report's charts need matplotlib (pip install -e '.[dev]')")
Image = pytest.importorskip("PIL.Image", reason="the screenshot check needs Pillow (a matplotlib dependency)")

WIDTH, HEIGHT = 1280, 2400
BAND_OUTER = (0xC6, 0xDB, 0xEF)  # the p5-p95 band of the fan charts


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium: .ci/run installs the Debian package `chromium` with apt-get; it could not here")


def _browser(*args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", "--mute-audio"]
    return subprocess.run([_chromium(), *flags, *args], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pel

    comp = pel.compile(SAAS)
    ctx = build.model_context(comp.program, str(SAAS), warnings=comp.warnings)
    path = tmp_path_factory.mktemp("browser") / "saas_report.html"
    build.write_report(path, build.report_html(saas_mc(), ctx))
    return path


def test_chromium_draws_the_report(report: Path) -> None:
    shot = report.with_suffix(".png")
    proc = _browser(f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", report.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    print(f"\nscreenshot of the report: {shot}")  # the artifact (pytest -s shows the path)
    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    colors = image.getcolors(maxcolors=WIDTH * HEIGHT)
    assert colors is not None
    background = max(colors)[1]
    drawn = sum(n for n, c in colors if c != background)
    assert drawn > 0.15 * WIDTH * HEIGHT, "the page is (almost) blank"
    assert len(colors) > 200  # text, lines, bands: not a flat page
    band = sum(n for n, c in colors if all(abs(a - b) <= 6 for a, b in zip(c, BAND_OUTER, strict=True)))
    assert band > 20_000, "no fan-chart band was painted"


def test_the_browser_dom_holds_every_chart(report: Path) -> None:
    proc = _browser("--dump-dom", report.as_uri())
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    dom = Page(proc.stdout)
    outputs = list(saas_mc().variables)
    assert [f["data-var"] for f in dom.charts("fan")] == outputs
    assert [f["data-var"] for f in dom.charts("histogram")] == outputs
    assert len(dom.charts("constraint-chart")) == 1
    for fig in dom.charts("fan") + dom.charts("histogram") + dom.charts("constraint-chart"):
        assert fig["svgs"] == "1" and int(fig["paths"] or 0) >= 3, fig
    tables = [attrs.get("class") for tag, attrs, _ in dom.elements if tag == "table"]
    for kind in ("outputs", "constraints", "assumptions", "lint"):
        assert kind in tables
