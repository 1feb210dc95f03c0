"""Index arithmetic shared by the frontend time checker and the IR validator: forms `base + offset`."""

from __future__ import annotations

Affine = tuple[str | None, int]  # (base: "t", a local name, or None for a constant step; offset)


def combine(left: Affine | None, right: Affine | None, op: str) -> Affine | None:
    """`left op right` for op "+" or "-", or None when either side or the result is not affine."""
    if left is None or right is None:
        return None
    sign = 1 if op == "+" else -1
    if right[0] is None:
        return left[0], left[1] + sign * right[1]
    if left[0] is None and op == "+":
        return right[0], left[1] + right[1]
    return None
