"""Random streams and parameter sampling: per-block, per-name generators and the Gaussian copula."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from pel.diagnostics import RunError, simple
from pel.ir import nodes as ir
from pel.lang.provenance import PSD_TOLERANCE

BLOCK_SIZE = 4096  # part of the definition of the random streams: never depends on threads
STREAM_PARAM = 1
STREAM_INLINE = 2


@functools.lru_cache(maxsize=4096)
def name_key(name: str) -> int:
    """A stable 64-bit key of a name (never Python's salted hash())."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


class _StreamKey(ISeedSequence):
    """The seed material of one stream: 256 bits of BLAKE2b over (seed, key). numpy's bit generators take any
    ISeedSequence; this one costs 4 us where a SeedSequence with a spawn key costs 30 (five streams a block)."""

    __slots__ = ("words",)

    def __init__(self, seed: int, key: tuple[int, ...]) -> None:
        text = "/".join(str(int(x)) for x in (seed, *key)).encode("ascii")
        self.words = hashlib.blake2b(text, digest_size=32, person=b"pel-stream-v1").digest()

    def generate_state(self, n_words: int, dtype: type = np.uint32) -> np.ndarray:
        return np.frombuffer(self.words, dtype=dtype, count=n_words)


def _generator(seed: int, key: tuple[int, ...]) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(_StreamKey(seed, key)))


def param_generator(seed: int, name: str, block: int) -> np.random.Generator:
    """The stream of one distribution parameter in one block of paths."""
    return _generator(seed, (STREAM_PARAM, name_key(name), block))


def inline_generators(seed: int, streams: tuple[tuple[str, int], ...], block: int) -> list[np.random.Generator]:
    """One stream per inline draw site, keyed by (owner name, ordinal of the site within the owner)."""
    return [_generator(seed, (STREAM_INLINE, name_key(owner), k, block)) for owner, k in streams]


@dataclass(frozen=True)
class Copula:
    """Correlated columns (indices into the distribution columns) and the factor L with L L^T = R."""

    columns: tuple[int, ...]
    factor: np.ndarray


def copula(model: ir.Model, dist_columns: tuple[str, ...], notes: list[str]) -> Copula | None:
    """The Gaussian copula of the declared correlations, or None; refuses a non-PSD matrix (E0430)."""
    index = {name: k for k, name in enumerate(dist_columns)}
    pairs: dict[tuple[int, int], float] = {}
    for a, b, rho in model.correlations:
        if a not in index or b not in index:
            missing = a if a not in index else b
            notes.append(f"correlation {a}~{b} ignored: {missing!r} is not a distribution parameter")
            continue
        if not -1.0 <= rho <= 1.0:
            raise RunError(simple("E0432", f"correlation coefficient {rho} between {a} and {b} is outside [-1, 1]"))
        if a != b:
            pairs[(min(index[a], index[b]), max(index[a], index[b]))] = float(rho)
    if not pairs:
        return None
    cols = tuple(sorted({k for pair in pairs for k in pair}))
    pos = {c: n for n, c in enumerate(cols)}
    mat = np.eye(len(cols))
    for (a, b), rho in pairs.items():
        mat[pos[a], pos[b]] = mat[pos[b], pos[a]] = rho
    if np.linalg.eigvalsh(mat).min() < PSD_TOLERANCE:
        names = ", ".join(dist_columns[c] for c in cols)
        raise RunError(simple("E0430", f"correlation matrix of {names} is not positive semi-definite",
                              hint="lower the coefficients so that they are mutually consistent"))
    try:
        factor = np.linalg.cholesky(mat)
    except np.linalg.LinAlgError:  # singular but PSD: a symmetric square root does the same job
        vals, vecs = np.linalg.eigh(mat)
        factor = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return Copula(cols, factor)


def param_normals(seed: int, block: int, n: int, dist_columns: tuple[str, ...], cop: Copula | None) -> np.ndarray:
    """Standard-normal scores (n, P) of the distribution parameters of one block, copula applied."""
    z = np.empty((n, len(dist_columns)))
    for k, name in enumerate(dist_columns):
        z[:, k] = param_generator(seed, name, block).standard_normal(n)
    if cop is not None:
        raw = z[:, list(cop.columns)].copy()
        for r, col in enumerate(cop.columns):  # fixed summation order: bit-reproducible everywhere
            acc = np.zeros(n)
            for m in range(len(cop.columns)):
                if cop.factor[r, m] != 0.0:
                    acc += cop.factor[r, m] * raw[:, m]
            z[:, col] = acc
    return z
