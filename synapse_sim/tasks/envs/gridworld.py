"""The 10x10 stochastic gridworld of the spiking-agents paper (../shared/specs/qagrel-spiking.md, 2.5).

States 0..99 row-major (the spec's 1..100), start at 0 (top left), the goal at 99 (bottom right):
entering it gives +10 and ends the episode, every other move 0. An action (up, right, down,
left) moves as intended with probability 0.8, veers to its left or right with 0.05 each and
stays with 0.1; a move into the wall stays. Registered with a 300-step limit and reward
threshold 10 (the goal reached), so "solved" reads "reached the goal".
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

MOVES = np.array([(-1, 0), (0, 1), (1, 0), (0, -1)])  # up, right, down, left: (row, column)
INTENDED, VEER, STAY = 0.8, 0.05, 0.1


class Gridworld(gymnasium.Env):
    """A ``size`` x ``size`` grid; the observation is the cell index (a ``Discrete`` space)."""

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, size: int = 10, render_mode: str | None = None):
        self.size = int(size)
        self.goal = self.size * self.size - 1
        self.observation_space = spaces.Discrete(self.size * self.size)
        self.action_space = spaces.Discrete(4)
        self.render_mode = render_mode
        self.cell = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell = 0
        return self.cell, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not one of the gridworld's 4 moves (0 up, 1 right, 2 down, 3 left)")
        u = self.np_random.random()
        if u < INTENDED:
            move = int(action)
        elif u < INTENDED + VEER:
            move = (int(action) - 1) % 4
        elif u < INTENDED + 2 * VEER:
            move = (int(action) + 1) % 4
        else:
            move = None
        if move is not None:
            row, column = divmod(self.cell, self.size)
            row, column = row + MOVES[move][0], column + MOVES[move][1]
            if 0 <= row < self.size and 0 <= column < self.size:
                self.cell = int(row * self.size + column)
        terminated = self.cell == self.goal
        return self.cell, (10.0 if terminated else 0.0), terminated, False, {}

    def render(self):
        image = np.full((self.size, self.size, 3), 235, dtype=np.uint8)
        image[divmod(self.goal, self.size)] = (60, 170, 60)
        image[divmod(self.cell, self.size)] = (40, 90, 200)
        return np.kron(image, np.ones((20, 20, 1), dtype=np.uint8))
