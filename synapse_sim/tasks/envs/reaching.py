"""The NRL paper's immediate-reward reaching task (neurogym's Reaching1D, written from the spec:
../shared/specs/nrl-rmhl.md, section 3; neurogym itself is not a dependency).

An agent moves its angle theta on a circle towards a target angle phi drawn at each reset: 16
cosine-tuned units see the target (cos(phi - preferred_i)) and 16 its own angle, actions are
stay / +0.05 rad / -0.05 rad, and every step pays max(1 - d(theta, phi), -0.1), d the
circular distance. A trial lasts 300 steps (dt 10 ms, reach 3 s), so a return is at most 300.
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

UNITS = 16
STEP = 0.05
MOVES = (0.0, STEP, -STEP)


def circular_distance(a: float, b: float) -> float:
    return float(np.abs((a - b + np.pi) % (2 * np.pi) - np.pi))


class Reaching1D(gymnasium.Env):
    """Reach a target angle; the observation is 16 target units then 16 own-angle units."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self):
        self.preferred = np.arange(UNITS) * 2 * np.pi / UNITS
        self.observation_space = spaces.Box(-1.0, 1.0, (2 * UNITS,), dtype=np.float64)
        self.action_space = spaces.Discrete(3)
        self.theta = np.pi
        self.target = 0.0

    def _observation(self) -> np.ndarray:
        return np.concatenate([np.cos(self.target - self.preferred), np.cos(self.theta - self.preferred)])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.theta = np.pi
        self.target = float(self.np_random.uniform(0, 2 * np.pi))
        return self._observation(), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not one of the reaching task's 3 (0 stay, 1 +0.05, 2 -0.05 rad)")
        self.theta = float((self.theta + MOVES[int(action)]) % (2 * np.pi))
        reward = max(1.0 - circular_distance(self.theta, self.target), -0.1)
        return self._observation(), reward, False, False, {}
