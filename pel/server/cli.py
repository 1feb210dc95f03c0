"""The `pel serve` subcommand, registered on the `pel` command line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand to the `pel` parser."""
