"""Namespace: maps PEL names to safe Python identifiers, so no model text can reach generated code as code."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def sanitize(name: str, limit: int = 32) -> str:
    """ASCII letters, digits and underscores only (a readable hint, never trusted for uniqueness)."""
    text = _UNSAFE.sub("_", name.encode("ascii", "replace").decode("ascii"))[:limit]
    return text.strip("_") or "x"


class Namespace:
    """Hands out identifiers `<prefix>_<index>_<sanitized>`: the index makes them unique, the prefix keeps
    them apart from the runtime's names and from Python keywords."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], str] = {}
        self._count = 0
        self._temps = 0

    def ident(self, prefix: str, name: str) -> str:
        """The identifier of (prefix, name), created on first use."""
        key = (prefix, name)
        if key not in self._ids:
            self._ids[key] = f"{prefix}_{self._count}_{sanitize(name)}"
            self._count += 1
        return self._ids[key]

    def fresh(self, prefix: str, name: str) -> str:
        """A new identifier that is never handed out again (locals of loops and functions)."""
        self._count += 1
        return f"{prefix}_{self._count}_{sanitize(name)}"

    def temp(self) -> str:
        """A compiler temporary."""
        self._temps += 1
        return f"_t{self._temps}"
