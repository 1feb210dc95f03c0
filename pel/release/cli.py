"""Subcommands of the release workflow, registered on the `pel` command line."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the release subcommands (diff, init, lint, assumptions) to the `pel` parser."""
