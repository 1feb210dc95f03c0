"""Release version numbers `X.Y.Z`: parsing, ordering, the next version for a bump, the bump between two."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass

_VERSION = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")


@dataclass(frozen=True, order=True)
class Version:
    """A semantic version without pre-release or build parts; ordered as semver orders them."""

    major: int
    minor: int
    patch: int

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    def bumped(self, bump: str) -> Version:
        """The next version for a `major`, `minor` or `patch` bump (1.4.2 -> 2.0.0, 1.5.0, 1.4.3)."""
        if bump == "major":
            return Version(self.major + 1, 0, 0)
        if bump == "minor":
            return Version(self.major, self.minor + 1, 0)
        if bump == "patch":
            return Version(self.major, self.minor, self.patch + 1)
        raise ValueError(f"not a version bump: {bump!r}")


# The first release of a model, unless --version says otherwise.
FIRST = Version(1, 0, 0)


def parse(text: str) -> Version | None:
    """`1.4.2` -> Version(1, 4, 2); None for anything else (leading zeros, a `v`, pre-release parts)."""
    m = _VERSION.fullmatch(text)
    return Version(*(int(g) for g in m.groups())) if m else None


def bump_between(old: Version, new: Version) -> str:
    """The bump that goes from `old` to a larger `new`: major when the major number grew, else minor when the
    minor number grew, else patch (1.4.2 -> 2.0.0 is major, -> 1.6.1 minor, -> 1.4.9 patch)."""
    if new <= old:
        raise ValueError(f"{new} is not after {old}")
    if new.major != old.major:
        return "major"
    return "minor" if new.minor != old.minor else "patch"


def version_arg(text: str) -> Version:
    """argparse type of --version: X.Y.Z."""
    version = parse(text.strip())
    if version is None:
        raise argparse.ArgumentTypeError(f"expected a version X.Y.Z like 1.4.0, got {text!r}")
    return version
