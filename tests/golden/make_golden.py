"""Record golden trajectories of the vectorised engine (run once, before a refactor; never to "fix" a test).

    .venv/bin/python tests/golden/make_golden.py [NAME ...]

Each case runs a shipped scenario for a fixed number of steps on seed 0 and stores, in
``tests/golden/NAME.npz``: the reward of every step, the loss and accuracy every 100 steps,
SHA-256 digests of the full loss and accuracy sequences, the final weights and the final
Q table. tests/test_golden.py replays the same cases and demands equality, bit for bit.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

from synapse_sim.locations import notmnist_sample

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = notmnist_sample()

CASES = {
    "fig1_adaptive": ("decision_boundary_adaptive.toml", 10_000, False),
    "fig1_static": ("decision_boundary_static.toml", 10_000, False),
    "notmnist_0hu": ("notmnist_0hu.toml", 20_000, True),
    "notmnist_32hu": ("notmnist_32hu.toml", 20_000, True),
}


def digest(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float64).tobytes()).hexdigest()


def trajectory(name: str, data=None) -> dict[str, np.ndarray]:
    """Run case ``name`` and return what is compared."""
    from synapse_sim import Scenario
    from synapse_sim.runner import make_engine

    file, steps, needs_data = CASES[name]
    scenario = Scenario.load(ROOT / "scenarios" / file)
    if needs_data:
        scenario = scenario.with_overrides({"task.data": str(data or DATA)})
    engine = make_engine(scenario, "vector")
    loss = np.empty(steps)
    accuracy = np.empty(steps)
    reward = np.empty(steps, dtype=np.int8)
    for i in range(steps):
        result = engine.step()
        loss[i], accuracy[i], reward[i] = result.loss, result.accuracy, result.reward
    state = engine.checkpoint()
    return {
        "reward": reward,
        "loss_every_100": loss[99::100].copy(),
        "accuracy_every_100": accuracy[99::100].copy(),
        "loss_sha256": np.array(digest(loss)),
        "accuracy_sha256": np.array(digest(accuracy)),
        "weights": state["weights"],
        "q": state["q"],
    }


def main(names) -> None:
    for name in names or CASES:
        arrays = trajectory(name)
        np.savez_compressed(HERE / f"{name}.npz", **arrays)
        print(f"{name}: final loss {arrays['loss_every_100'][-1]:.6g}, weights {arrays['weights'].shape}")


if __name__ == "__main__":
    main(sys.argv[1:])
