"""The window of steps over which an adaptive run averages its Q table (``policy.average_from``), as step numbers.

A resume must land the window exactly where a fresh run of the same length would; these
helpers find the ``run.iterations`` or ``policy.average_from`` that does (the rule's advice).
"""

from __future__ import annotations

import numpy as np


def average_start(fraction: float, iterations: int) -> int:
    """The step after which the averaged table starts: ``int(fraction * iterations)``."""
    return int(fraction * iterations)


def iterations_for_start(fraction: float, done: int) -> int | None:
    """The fewest iterations whose averaging window starts at or after step ``done``."""
    if fraction <= 0:
        return None
    n = max(1, int(np.ceil(done / fraction)))
    while n > 1 and average_start(fraction, n - 1) >= done:
        n -= 1
    while average_start(fraction, n) < done:
        n += 1
    return n


def fraction_for_start(start: int, iterations: int) -> float | None:
    """A policy.average_from whose window, for ``iterations``, starts exactly after step ``start``."""
    if not iterations or start > iterations:
        return None
    fraction = start / iterations
    for _ in range(8):
        if average_start(fraction, iterations) == start:
            return fraction
        fraction = float(np.nextafter(fraction, 2.0))
    return None
