"""Deterministic randomness: a generator per (seed, stream, bucket) and a stable per-record hash."""

import zlib
from functools import lru_cache

import numpy as np

_MASK = (1 << 64) - 1


def generator(seed: int, stream: int, bucket: int = 0) -> np.random.Generator:
    """A PCG64 generator that gives the same numbers for the same seed on every platform."""
    return np.random.default_rng([seed, stream, bucket + 1_000_000])


@lru_cache(maxsize=4096)
def _label(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _mix(z: int) -> int:
    """splitmix64's finaliser: every input bit changes about half the output bits."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(seed: int, *parts: int | str) -> float:
    """A uniform number in [0, 1) fixed by the seed and the parts (a record's id, a tag, ...)."""
    h = seed & _MASK
    for part in parts:
        h = _mix(h ^ ((part if isinstance(part, int) else _label(part)) & _MASK))
    return h / 2**64
