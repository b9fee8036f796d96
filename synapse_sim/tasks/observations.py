"""How an environment's observation enters the network (``control.encoding``).

``"raw"``: as it is (a ``Discrete`` observation one-hot); ``"unit"``: each dimension mapped into
[-1, 1] by the observation space's bounds (:func:`unit_box`); ``"bins"``: a population code, per
dimension ``control.bins`` inputs, +1 for the bin the value falls in and -1 for the others (the
spiking paper's mountain car feeds its neurons such +-1 codes). The critic of the spiking rule
reads every observation mapped into [0, 1] (:meth:`ObservationCode.unit`), whatever the code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ENCODINGS = ("raw", "unit", "bins")


def discrete(space) -> bool:
    from gymnasium import spaces

    return isinstance(space, spaces.Discrete)


def unit_box(observations: np.ndarray, space) -> np.ndarray:
    """Each dimension (columns) mapped into [0, 1]: linearly between the space's bounds where they are
    finite (clipped), through 0.5 + 0.5 tanh(x) where they are not (CartPole's velocities)."""
    shape = observations.shape[1:]
    low = np.broadcast_to(np.asarray(getattr(space, "low", 0.0), dtype=np.float64).ravel(), shape)
    high = np.broadcast_to(np.asarray(getattr(space, "high", 1.0), dtype=np.float64).ravel(), shape)
    x = observations.astype(np.float64)
    finite = np.isfinite(low) & np.isfinite(high) & (high > low)
    span = np.where(finite, high - low, 1.0)
    linear = np.clip((x - np.where(finite, low, 0.0)) / span, 0.0, 1.0)
    return np.where(finite, linear, 0.5 + 0.5 * np.tanh(x))


@dataclass(frozen=True)
class ObservationCode:
    """The encoding of ``space``'s observations as the network's input."""

    space: Any
    kind: str = "raw"
    bins: int = 10

    @property
    def dimensions(self) -> int:
        return int(self.space.n) if discrete(self.space) else int(np.prod(self.space.shape or (0,)))

    @property
    def size(self) -> int:
        """How many inputs the network needs."""
        return self.dimensions * self.bins if self.kind == "bins" and not discrete(self.space) else self.dimensions

    def unit(self, observations) -> np.ndarray:
        """Observations (rows) mapped into [0, 1] per dimension (a ``Discrete`` one: one-hot)."""
        if discrete(self.space):
            return np.stack([self._one_hot(o) for o in observations])
        return unit_box(np.asarray(observations, dtype=np.float64).reshape(len(observations), -1), self.space)

    def __call__(self, observation) -> np.ndarray:
        if discrete(self.space):
            return self._one_hot(observation)
        x = np.asarray(observation, dtype=np.float64).ravel()
        if self.kind == "raw" or x.size != self.dimensions or not np.all(np.isfinite(x)):
            return x  # a wrong shape or a NaN is reported by the caller, as it is
        unit = unit_box(x[None, :], self.space)[0]
        if self.kind == "unit":
            return 2 * unit - 1
        code = -np.ones((x.size, self.bins))
        code[np.arange(x.size), np.minimum((unit * self.bins).astype(int), self.bins - 1)] = 1
        return code.ravel()

    def _one_hot(self, observation) -> np.ndarray:
        x = np.zeros(int(self.space.n))
        x[int(observation) - int(self.space.start)] = 1
        return x
