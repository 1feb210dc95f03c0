"""`pel report` and `pel plot` end to end: files written, and coded errors (never a traceback) for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pel.cli import main
from tests.report.common import REVENUE, SAAS, Page, saas_mc

pytest.importorskip("matplotlib", reason="the report's charts need matplotlib (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("results") / "saas.json"
    saas_mc().to_json(str(path))
    return path


def test_report_of_a_model_runs_it_with_the_run_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "report.html"
    assert main(["report", str(SAAS), "--mode", "monte_carlo", "--runs", "1500", "--seed", "3", "--steps", "24",
                 "--set", "arpu=$130", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    text = " ".join(Page(html).text)
    assert "1,500 paths" in text and "seed 3" in text and "--set arpu=$130" in text and "steps 0..24" in text
    assert len(Page(html).charts("fan")) == 11 and "L006" in text  # lint ran on the model
    assert f"-> {out}" in capsys.readouterr().err


def test_report_of_a_results_file(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(results), "-o", str(out), "--quiet"]) == 0
    doc = Page(out.read_text(encoding="utf-8"))
    assert len(doc.charts("fan")) == 11 and len(doc.charts("histogram")) == 11
    assert "Lint needs the model" in " ".join(doc.text)


def test_report_charts_option_and_no_lint(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert main(["report", str(REVENUE), "-o", str(out), "--charts", "1", "--no-lint", "--quiet"]) == 0
    html = out.read_text(encoding="utf-8")
    assert len(Page(html).charts("fan")) == 1 and "Lint needs the model" in html


def test_plot_writes_png_and_svg(results: Path, tmp_path: Path) -> None:
    png = tmp_path / "mrr.png"
    assert main(["plot", str(results), "mrr", "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "two.svg"
    assert main(["plot", str(results), "mrr", "cash", "-o", str(svg)]) == 0
    text = svg.read_text(encoding="utf-8")
    assert text.count('<g id="axes_') == 2 and ">mrr<" in text and ">cash<" in text
    hist = tmp_path / "hist.svg"
    assert main(["plot", str(results), "cash", "--histogram", "-o", str(hist)]) == 0
    assert "bars between percentiles" in hist.read_text(encoding="utf-8")


ERRORS = [  # (arguments, code, words); RESULTS stands for the results file
    (["report", "RESULTS", "-o", "x.pdf"], "E1004", "must be an .html file"),
    (["report", "RESULTS", "-o", "x.html", "--runs", "10", "--seed", "1"], "E1005", "--seed, --runs given with a "
                                                                                     "results file"),
    (["report", "RESULTS", "-o", "x.html", "--sensitivity", "mrr"], "E1006", "a tornado runs the model"),
    (["report", str(SAAS), "-o", "x.html", "--runs", "10", "--sensitivity", "nope"], "E0600", "not a numeric output"),
    (["report", "MISSING.json", "-o", "x.html"], "E1001", "cannot read the results file"),
    (["plot", "RESULTS", "nope", "-o", "x.png"], "E1003", "'nope' is not an output"),
    (["plot", "RESULTS", "mrr", "-o", "x.gif"], "E1004", "must be a .png or .svg file"),
    (["plot", str(SAAS), "mrr", "-o", "x.png"], "E1001", "reads a results file"),
    (["plot", "BROKEN", "mrr", "-o", "x.png"], "E1002", "`status` must be one of"),
    (["report", "RESULTS", "-o", "NODIR/x.html"], "E1007", "cannot write"),
]


def test_sensitivity_adds_the_tornado_of_pel_sensitivity(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import re

    from pel.analysis import sensitivity as sa

    out = tmp_path / "s.html"
    assert main(["report", str(SAAS), "-o", str(out), "--runs", "500", "--sensitivity", "mrr", "--no-lint"]) == 0
    html = out.read_text(encoding="utf-8")
    section = re.search(r'<section id="sensitivity">.*?</section>', html, re.S).group(0)  # type: ignore[union-attr]
    assert len(Page(section).charts("tornado")) == 1
    import pel

    program = pel.compile(SAAS).program
    ref = sa.tornado(program, [("mrr", 60)], steps=60)
    first = ref.targets[0].rows[0].param
    rows = section[section.index("<table"):]  # the table lists the bars largest swing first
    assert first == "new_customer_rate" and rows.index(first) < rows.index("churn_rate") < rows.index("arpu")


@pytest.mark.parametrize(("args", "code", "words"), ERRORS)
def test_bad_input_is_a_coded_error(args: list[str], code: str, words: str, results: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"status": "fine"}))
    names = {"RESULTS": str(results), "BROKEN": str(broken), "MISSING.json": str(tmp_path / "missing.json")}
    argv = [names.get(a, a) for a in args]
    argv = [str(tmp_path / a) if a.startswith(("x.", "NODIR")) else a for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and words in err and "Traceback" not in err
    assert not list(tmp_path.glob("x.*"))


def test_without_matplotlib_the_commands_name_the_extra(results: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now raises ImportError
    for argv in (["report", str(results), "-o", str(tmp_path / "r.html")],
                 ["plot", str(results), "mrr", "-o", str(tmp_path / "p.png")]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "error[E1000]" in err and "pip install 'pel-lang[plot]'" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pel.cli", "report", str(tmp_path / "none.json"), "-o",
                           str(tmp_path / "r.html")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "error[E1001]" in proc.stderr and "Traceback" not in proc.stderr
