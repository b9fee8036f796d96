"""Counter-based randomness: every random number of a run is keyed by (seed, stream, keys...).

A number never depends on how many were drawn before it, so both views, any activation
order and a resumed run see the same numbers.
"""

from __future__ import annotations

import numpy as np

STREAM_STEP, STREAM_INIT, STREAM_DATA, STREAM_BATCH, STREAM_SPLIT, STREAM_NOISE = 0, 1, 2, 3, 4, 5
STREAM_TRIAL, STREAM_MEMORY = 6, 7  # action selection of a trial; a rule's random initial memory
STREAM_EPISODE = 8  # an episode's environment seed, actions and neuron noise


def generator(seed: int, stream: int, *keys: int) -> np.random.Generator:
    """A generator keyed by (seed, stream, keys...): the same numbers in any process or order."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), stream, *map(int, keys)])))
