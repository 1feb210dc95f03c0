"""The comments between two tokens: the lexer skips them, the formatter puts them back."""

from __future__ import annotations

import re

_MARK = re.compile(r"/\*|\*/")


def gap_comments(gap: str) -> tuple[list[tuple[str, str, int]], int]:
    """Comments in `gap` (text that holds only blanks and comments) as (kind, text, line breaks before it),
    and the line breaks after the last one. Kinds: "line_comment" (`//`), "block_comment" (`/* */`, nested)."""
    out: list[tuple[str, str, int]] = []
    newlines = 0
    i, n = 0, len(gap)
    while i < n:
        ch = gap[i]
        if ch == "\n":
            newlines += 1
            i += 1
        elif gap.startswith("//", i):
            end = gap.find("\n", i)
            end = n if end < 0 else end
            out.append(("line_comment", gap[i:end].rstrip(), newlines))
            newlines, i = 0, end
        elif gap.startswith("/*", i):
            end = _block_end(gap, i)
            out.append(("block_comment", gap[i:end], newlines))
            newlines, i = 0, end
        else:  # a blank (the lexer accepted the text, so nothing else can stand between tokens)
            i += 1
    return out, newlines


def _block_end(text: str, start: int) -> int:
    """Offset just after the `*/` that closes the (nested) block comment opened at `start`."""
    pos, depth = start + 2, 1
    while depth:
        mark = _MARK.search(text, pos)
        if mark is None:
            return len(text)
        depth += 1 if mark.group() == "/*" else -1
        pos = mark.end()
    return pos
