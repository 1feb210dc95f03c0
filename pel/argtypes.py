"""Value types for argparse options shared by the `pel` subcommands (whole numbers with a lower bound)."""

from __future__ import annotations

import argparse


def _whole_number(text: str, minimum: int, bound: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected a {bound} number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (underscores allowed: 1_000)."""
    return _whole_number(text, 0, "non-negative")


def positive_int(text: str) -> int:
    """A whole number >= 1 (underscores allowed: 1_000)."""
    return _whole_number(text, 1, "positive")
