"""Chunking: the model's items (parameters; variables, policies, outputs, constraints of a step) cut into groups,
each compiled as one kernel function, with cut points that an edit of one formula does not move."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

# A chunk holds MIN_ITEMS to MAX_ITEMS items: numba's compile time per item is flat up to about 60 items and grows
# beyond (measured: 37 ms per variable at 64 variables, 86 ms at 256), and every chunk costs one call per step.
MIN_ITEMS = 16
MAX_ITEMS = 48
CUT_EVERY = 16  # after MIN_ITEMS, a cut follows an item whose name hashes to 0 modulo this


@dataclass(frozen=True)
class Item:
    """One unit of generated code: kind "param" | "var" | "policy" | "output" | "constraint", and its name."""

    kind: str
    name: str
    weight: int = 1  # items that generate much code (a long message) count more


def _cut_after(item: Item) -> bool:
    digest = hashlib.blake2b(f"{item.kind}:{item.name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % CUT_EVERY == 0


def partition(items: Sequence[Item]) -> list[list[Item]]:
    """Consecutive groups of `items` (order kept). The cuts depend only on the names and weights of the items
    before them since the last cut, so changing one formula changes one chunk's code and no chunk's members."""
    chunks: list[list[Item]] = []
    current: list[Item] = []
    size = 0
    for item in items:
        if current and size + item.weight > MAX_ITEMS:
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item.weight
        if size >= MAX_ITEMS or (size >= MIN_ITEMS and _cut_after(item)):
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks
