"""`pel release`: the version a diff requires, immutable release files, the changelog, git tags, model.version."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import pel
from pel.cli import main
from pel.release import diff, store
from pel.release.versions import Version, bump_between, parse
from tests.release.sources import GROWTH, PROV, write

NUDGED = GROWTH.replace("$50_000", "$50_250")  # every step moves 0.5%: patch
WIDER = NUDGED.replace("  var mrr", f"  param seats: Count = 10 {PROV}\n  var mrr")  # a parameter added: minor
FASTER = WIDER.replace("0.10 / 1mo", "0.12 / 1mo")  # mrr moves 24% at the horizon: major


def release(model: Path, releases: Path, *extra: str) -> int:
    return main(["release", str(model), "--dir", str(releases), *extra])


def released(releases: Path) -> list[str]:
    return sorted(p.name for p in (releases / "Growth").glob("*.ir.json"))


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Path]:
    return {name: write(tmp_path, f"{name}.pel", text)
            for name, text in [("growth", GROWTH), ("nudged", NUDGED), ("wider", WIDER), ("faster", FASTER)]}


def test_first_release_is_1_0_0_with_the_version_outside_the_hash(models, tmp_path: Path, capsys) -> None:
    releases = tmp_path / "releases"
    assert release(models["growth"], releases) == 0
    assert "released Growth v1.0.0" in capsys.readouterr().out
    path = releases / "Growth" / "1.0.0.ir.json"
    data = json.loads(path.read_text())
    assert data["metadata"]["model_version"] == "1.0.0"
    compiled = pel.compile(str(models["growth"]))
    assert data["metadata"]["model_hash"] == compiled.hash == pel.load(str(path)).hash  # validated on load
    changelog = (releases / "Growth" / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog of Growth\n")
    assert "## v1.0.0 — " in changelog and "(first release)" in changelog and compiled.hash in changelog


def test_each_release_takes_the_bump_the_diff_requires(models, tmp_path: Path, capsys) -> None:
    releases = tmp_path / "releases"
    for name in ("growth", "nudged", "wider", "faster"):
        assert release(models[name], releases) == 0
    assert released(releases) == ["1.0.0.ir.json", "1.0.1.ir.json", "1.1.0.ir.json", "2.0.0.ir.json"]
    out = capsys.readouterr().out
    assert "compared with v1.1.0: the changes require a major release" in out
    changelog = (releases / "Growth" / "CHANGELOG.md").read_text()
    titles = [line for line in changelog.splitlines() if line.startswith("## ")]
    assert [t.split(" — ")[0] for t in titles] == ["## v2.0.0", "## v1.1.0", "## v1.0.1", "## v1.0.0"]
    major = changelog[changelog.index("## v2.0.0"):changelog.index("## v1.1.0")]
    assert "compared with v1.1.0 (deterministic, seed 42, steps 0..12, threshold 5%, atol 1e-09)" in major
    assert "The changes require a major release." in major
    assert "- major: output mrr moves 2" in major and "(more than the 5% threshold)" in major
    assert "- patch: parameter growth_rate default: 0.10 / 1mo -> 0.12 / 1mo" in major
    minor = changelog[changelog.index("## v1.1.0"):changelog.index("## v1.0.1")]
    assert "- minor: parameter added: seats" in minor


def test_version_smaller_than_required_is_refused_with_the_reasons(models, tmp_path: Path, capsys) -> None:
    releases = tmp_path / "releases"
    assert release(models["wider"], releases) == 0
    log = (releases / "Growth" / "CHANGELOG.md").read_bytes()
    capsys.readouterr()
    assert release(models["faster"], releases, "--version", "1.1.0") == 1
    err = capsys.readouterr().err
    assert "error[E1102]: --version 1.1.0 is a minor release after v1.0.0, but the changes require a major" in err
    assert "  - output mrr moves 2" in err and "more than the 5% threshold" in err
    assert "hint: release v2.0.0" in err and "Traceback" not in err
    assert released(releases) == ["1.0.0.ir.json"]  # nothing written
    assert (releases / "Growth" / "CHANGELOG.md").read_bytes() == log
    # a larger bump than required is the author's choice, and the changelog says so
    patch = write(tmp_path, "patch.pel", WIDER.replace("$50_250", "$50_300"))
    assert release(patch, releases, "--version", "3.0.0") == 0
    assert "The changes require a patch release; released as major (--version)." in \
        (releases / "Growth" / "CHANGELOG.md").read_text()


def test_releases_are_immutable_and_only_move_forward(models, tmp_path: Path, capsys) -> None:
    releases = tmp_path / "releases"
    assert release(models["growth"], releases, "--version", "1.2.0") == 0
    path = releases / "Growth" / "1.2.0.ir.json"
    before = path.read_bytes()
    capsys.readouterr()
    assert release(models["faster"], releases, "--version", "1.2.0") == 1
    assert "error[E1100]" in capsys.readouterr().err and path.read_bytes() == before
    assert release(models["faster"], releases, "--version", "1.1.9") == 1
    assert "error[E1101]: --version 1.1.9 is not after the latest release v1.2.0" in capsys.readouterr().err
    assert release(models["growth"], releases) == 1  # the same model again
    assert "error[E1103]: nothing to release" in capsys.readouterr().err
    assert release(models["growth"], releases, "--version", "1.2.1") == 0  # unless a version is given
    assert release(models["growth"], releases, "--version", "v1.3.0") == 1
    assert "error[E0011]" in capsys.readouterr().err
    assert released(releases) == ["1.2.0.ir.json", "1.2.1.ir.json"]


def test_exclusive_write_has_one_winner(tmp_path: Path) -> None:
    target = tmp_path / "1.0.0.ir.json"
    wins: list[bytes] = []
    barrier = threading.Barrier(8)

    def attempt(k: int) -> None:
        data = f"writer {k}\n".encode()
        barrier.wait()
        if store.write_new(target, data):
            wins.append(data)

    threads = [threading.Thread(target=attempt, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and target.read_bytes() == wins[0]
    assert [p.name for p in tmp_path.iterdir()] == ["1.0.0.ir.json"]  # no temporary left


def test_a_release_made_meanwhile_is_not_overtaken(models, tmp_path: Path, monkeypatch, capsys) -> None:
    """Another `pel release` lands while this one runs its diff: this one writes nothing and says why."""
    releases = tmp_path / "releases"
    assert release(models["growth"], releases) == 0
    real = diff.compare

    def racing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        report = real(*args, **kwargs)
        (releases / "Growth" / "1.0.1.ir.json").write_bytes((releases / "Growth" / "1.0.0.ir.json").read_bytes())
        return report

    monkeypatch.setattr(diff, "compare", racing)
    capsys.readouterr()
    assert release(models["faster"], releases) == 1
    err = capsys.readouterr().err
    assert "error[E1108]: Growth v1.0.1 was released while this release was prepared" in err
    assert released(releases) == ["1.0.0.ir.json", "1.0.1.ir.json"]


def test_two_concurrent_releases_make_one(models, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    assert release(models["growth"], releases) == 0
    cmd = [sys.executable, "-m", "pel.cli", "release", str(models["faster"]), "--dir", str(releases)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1]
    err = errs[codes.index(1)]
    assert any(f"error[{c}]" in err for c in ("E1100", "E1103", "E1108")) and "Traceback" not in err
    assert released(releases) == ["1.0.0.ir.json", "2.0.0.ir.json"]
    assert (releases / "Growth" / "CHANGELOG.md").read_text().count("## v2.0.0") == 1


def test_results_of_a_released_model_carry_model_version(models, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    assert release(models["growth"], releases) == 0
    out = tmp_path / "out.json"
    assert main(["run", str(releases / "Growth" / "1.0.0.ir.json"), "-o", str(out), "--quiet"]) == 0
    model = json.loads(out.read_text())["model"]
    assert model["version"] == "1.0.0" and model["hash"] == pel.compile(str(models["growth"])).hash
    assert main(["run", str(models["growth"]), "-o", str(out), "--quiet"]) == 0
    assert "version" not in json.loads(out.read_text())["model"]  # not released: no version
    assert pel.load(str(releases / "Growth" / "1.0.0.ir.json")).run().to_dict()["model"]["version"] == "1.0.0"


def test_json_output(models, tmp_path: Path, capsys) -> None:
    releases = tmp_path / "releases"
    assert release(models["growth"], releases) == 0
    capsys.readouterr()
    assert release(models["wider"], releases, "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["version"], data["previous"], data["bump"], data["required"]) == ("1.1.0", "1.0.0", "minor",
                                                                                    "minor")
    assert data["file"] == str(releases / "Growth" / "1.1.0.ir.json") and data["tag"] is None
    assert data["diff"]["bump"] == "minor" and data["diff"]["ok"] is True


# ---------------------------------------------------------------------------------------------
# git tags
# ---------------------------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          capture_output=True, text=True, check=True, timeout=60).stdout


@pytest.fixture
def repo(tmp_path: Path, models: dict[str, Path]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root, "growth.pel", GROWTH)
    git(root, "add", "growth.pel")
    git(root, "commit", "-q", "-m", "model")
    return root


def test_tag_is_created_inside_a_git_work_tree(repo: Path, models, capsys) -> None:
    assert release(repo / "growth.pel", repo / "releases", "--tag") == 0
    assert "tag: v1.0.0" in capsys.readouterr().out
    assert git(repo, "tag", "--list").split() == ["v1.0.0"]
    assert release(models["nudged"], repo / "releases", "--tag", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out)["tag"] == "v1.0.1"
    assert git(repo, "tag", "--list").split() == ["v1.0.0", "v1.0.1"]


def test_an_existing_tag_refuses_the_release(repo: Path, models, capsys) -> None:
    git(repo, "tag", "v1.0.0")
    assert release(repo / "growth.pel", repo / "releases", "--tag") == 1
    err = capsys.readouterr().err
    assert "error[E1105]: the git tag v1.0.0 exists already; nothing was released" in err
    assert not (repo / "releases").exists()


def test_tag_outside_a_work_tree_is_refused(tmp_path: Path, models, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    outside = tmp_path / "plain"
    assert release(models["growth"], outside / "releases", "--tag") == 1
    assert "error[E1104]" in capsys.readouterr().err and not outside.exists()


# ---------------------------------------------------------------------------------------------
# Version numbers
# ---------------------------------------------------------------------------------------------


def test_versions() -> None:
    assert parse("1.4.2") == Version(1, 4, 2) and str(Version(1, 4, 2)) == "1.4.2"
    assert [parse(t) for t in ("v1.0.0", "1.0", "01.0.0", "1.0.0-rc.1", "")] == [None] * 5
    assert Version(1, 10, 0) > Version(1, 9, 9)
    assert [Version(1, 4, 2).bumped(b) for b in ("major", "minor", "patch")] == [
        Version(2, 0, 0), Version(1, 5, 0), Version(1, 4, 3)]
    assert [bump_between(Version(1, 4, 2), parse(t)) for t in ("2.0.0", "1.6.1", "1.4.9")] == [
        "major", "minor", "patch"]


def test_a_first_release_that_does_not_run_is_refused(tmp_path: Path, capsys) -> None:
    src = write(tmp_path, "bad.pel", "model Bad {\n  param zero: Fraction = 0 " + PROV + "\n"
                "  var x: TimeSeries<Fraction>\n  x[t] = 1 / zero\n  simulate for 2mo\n}\n")
    assert main(["release", str(src), "--dir", str(tmp_path / "releases")]) == 1
    err = capsys.readouterr().err
    assert "error[E1109]" in err and "E0800 division by zero" in err and "Traceback" not in err
    assert not (tmp_path / "releases" / "Bad").exists() or not list((tmp_path / "releases" / "Bad").iterdir())
