"""The git tag of a release (`pel release --tag`): checked before anything is written, created after."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pel.diagnostics import simple
from pel.release.common import ReleaseError


def _git(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except FileNotFoundError:
        raise ReleaseError(simple("E1104", "--tag needs git, which is not installed (no `git` command)",
                                  hint="leave --tag out, or install git")) from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReleaseError(simple("E1104", f"--tag: git could not run: {exc}")) from None


def work_tree(path: Path) -> Path:
    """The nearest existing folder at or above `path` (git runs there: the repository the releases go into)."""
    path = path.absolute()
    while not path.is_dir() and path != path.parent:
        path = path.parent
    return path


def check(where: Path, tag: str) -> None:
    """Refuse (E1104, E1105) unless `where` is inside a git work tree with a commit and `tag` does not exist."""
    inside = _git(where, "rev-parse", "--is-inside-work-tree")
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        raise ReleaseError(simple("E1104", f"--tag: {where} is not inside a git work tree, so no tag can be made",
                                  hint="run `pel release` in the repository that keeps the releases, or leave --tag "
                                       "out"))
    if _git(where, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").returncode != 0:
        raise ReleaseError(simple("E1104", "--tag: the git repository has no commit to tag yet",
                                  hint="commit the model first"))
    if _git(where, "rev-parse", "--verify", "--quiet", f"refs/tags/{tag}").returncode == 0:
        raise ReleaseError(simple("E1105", f"the git tag {tag} exists already; nothing was released",
                                  hint="choose another version with --version, or delete the tag if it is wrong"))


def create(where: Path, tag: str, released: Path) -> None:
    """`git tag TAG` on the current commit (E1106 when git refuses: the release itself is written)."""
    proc = _git(where, "tag", tag)
    if proc.returncode != 0:
        why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
        raise ReleaseError(simple("E1106", f"{released} was released, but `git tag {tag}` failed: {why}",
                                  hint=f"create the tag by hand: git tag {tag}"))
