"""Test session set-up: a private kernel cache shared by the session's processes, and the ../shared locator."""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")  # read once, when numba is first imported

# One kernel cache for the whole session (subprocesses inherit it), so each model is JIT-compiled once.
if "PEL_CACHE_DIR" not in os.environ:
    os.environ["PEL_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / f"pel-test-cache-{os.getuid()}")

REPO = Path(__file__).resolve().parents[1]
SHARED = (REPO / ".." / "shared").resolve()
EXAMPLES = REPO / "examples"


CORPUS_MODELS = SHARED / "corpus" / "models"


def corpus_labels() -> list[dict[str, str]]:
    """The rows of ../shared/corpus/models/LABELS.tsv (file, label, expected_code, ...); [] when it is absent."""
    if not (CORPUS_MODELS / "LABELS.tsv").exists():
        return []
    with open(CORPUS_MODELS / "LABELS.tsv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def shared_dir(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when ../shared is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared is not present ({path} missing): corpus tests need the shared checkout")
    return path


@pytest.fixture
def shared() -> Path:
    return shared_dir()
