"""PEL's size limits, in one place: the CLI, the library (`Model.run`), the engine and IR validation read them.

A value beyond a limit is refused with a coded error naming the limit, never run until memory or time runs out.
"""

from __future__ import annotations

# The last time step T of a run (steps t = 0..T): a model's `simulate for` horizon, `--steps`, `steps=`.
# One path keeps T + 1 floats per variable; a Monte Carlo block of 4096 paths keeps 4096 * (T + 1) floats per
# output (3.3 GB at this limit), so beyond it memory, not the model, decides. 100,000 steps is 8,333 years of
# months, 273 years of days, a day and more of seconds.
MAX_STEPS = 100_000

# Monte Carlo paths of one run (`--runs`, `runs=`, a model's `simulate ... runs`). At this limit a 60-step model
# is about 6 * 10^10 path-steps: minutes to hours on a large machine; the statistics' memory stays bounded.
MAX_RUNS = 1_000_000_000

# Parameters in one correlation matrix: checking it positive semi-definite and factoring it cost the cube of
# this, sampling it the square of it per path.
MAX_CORRELATED = 1_000

# A seed is a non-negative integer below this (it keys numpy's 64-bit generators).
SEED_LIMIT = 2**63
