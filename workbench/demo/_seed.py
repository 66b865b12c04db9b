"""Seeded random generators for the synthetic data (internal)."""

from __future__ import annotations

import numpy as np


def seeded_rng(seed: int, *stream: int) -> np.random.Generator:
    """Return a generator fixed by `seed` and a stream number per purpose.

    Negative seeds are allowed and differ from their absolute value.

    Parameters
    ----------
    seed
        The user's seed, any Python int.
    *stream
        Small non-negative ints that separate independent uses of one seed.

    Returns
    -------
    numpy.random.Generator
        ``default_rng`` of a SeedSequence built from the seed's 64-bit pattern and `stream`.
    """
    return np.random.default_rng([seed % 2**64, seed // 2**64 % 2**64, *stream])
