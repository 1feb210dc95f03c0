"""`pel init DIR`: the repository layout of seed tutorial 10 with a working model, its tests, docs and CI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pel.diagnostics import PelError, simple
from pel.release import templates


class InitError(PelError):
    """`pel init` could not write the layout (files exist, or the directory is not writable)."""

    phase = "init"


DISTRIBUTION = "pel-lang"  # what pip installs (`pip install pel-lang`): the package `pel` and the command `pel`


def _requirement() -> str:
    """The pip requirement for the PEL that is running: its distribution and version (`pel-lang==0.1.0`)."""
    from pel import __version__

    return f"{DISTRIBUTION}=={__version__}"


def files(today: dt.date) -> dict[str, str]:
    """Relative path -> text of every file of the layout (docs/assumptions.md is added by `write`)."""
    name = templates.MODEL_NAME
    return {
        f"models/{name}.pel": templates.MODEL.replace("{validated}", today.isoformat()),
        f"tests/test_{name}.py": templates.TESTS,
        ".github/workflows/ci.yml": templates.CI.replace("{requirement}", _requirement()),
        ".gitignore": templates.GITIGNORE,
        "README.md": templates.README.replace("{model_name}", name),
        "docs/changelog.md": templates.CHANGELOG.replace("{model_name}", name).replace("{date}", today.isoformat()),
    }


def write(directory: str | Path, *, force: bool = False, today: dt.date | None = None) -> list[Path]:
    """Write the layout under `directory`; refuse (InitError E0010) when a file exists, unless `force`."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InitError(simple("E0010", f"{root} exists and is not a directory"))
    layout = files(today or dt.date.today())
    model_rel = f"models/{templates.MODEL_NAME}.pel"
    every = [*layout, "docs/assumptions.md"]
    existing = [rel for rel in every if (root / rel).exists()]
    if existing and not force:
        raise InitError(simple(
            "E0010", f"refusing to overwrite {len(existing)} existing file(s) in {root}: {', '.join(existing)}",
            hint="pass --force to overwrite them, or choose an empty directory",
        ))
    written = []
    try:
        for rel, text in layout.items():
            written.append(_put(root / rel, text))
        written.append(_put(root / "docs/assumptions.md", _assumptions(root / model_rel, model_rel)))
    except OSError as exc:
        raise InitError(simple("E0010", f"cannot write {exc.filename or root}: {exc.strerror}")) from None
    return written


def _put(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _assumptions(model_path: Path, shown: str) -> str:
    """docs/assumptions.md from the model just written (compiled, so the register matches what runs)."""
    from pel.release import register
    from pel.release.common import load

    loaded = load(str(model_path))
    loaded.path = shown
    return register.markdown(loaded)
