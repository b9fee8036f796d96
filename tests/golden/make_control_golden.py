"""Record golden trajectories of the control rules (run once, before a refactor; never to "fix" a test).

    .venv/bin/python tests/golden/make_control_golden.py [NAME ...]

Each case runs a few episodes of one control rule (or variant) on seed 3 and stores, in
``tests/golden/control_NAME.npz``: every episode's return and length, and the final
checkpoint (weights, memory, the rule's shared state). tests/test_golden.py replays the
cases and demands equality, bit for bit.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

CARTPOLE = {"control.env": "CartPole-v1", "network.layers": [4, 16, 2], "control.stop_when_solved": False}
CASES = {
    "reinforce": (CARTPOLE | {"run.method": "reinforce"}, 30),
    "nrl": (CARTPOLE | {"run.method": "nrl", "nrl.scale_by_width": True}, 30),
    "nrl_implicit": (CARTPOLE | {"run.method": "nrl", "nrl.implicit_noise": True}, 20),
    "nrl_noisy_passes": (CARTPOLE | {"run.method": "nrl", "nrl.noisy_passes": 3}, 20),
    "rmhl": (CARTPOLE | {"run.method": "rmhl", "network.layers": [4, 16, 16, 2]}, 30),
    "rmhl_hebbian": (CARTPOLE | {"run.method": "rmhl", "rmhl.exploratory_hebbian": True}, 20),
    "synaptic_rl": (CARTPOLE | {"run.method": "synaptic_rl", "synapse.reward_baseline": "running_average"}, 30),
    "spiking_cartpole": ({"scenario": "cartpole_spiking.toml", "network.layers": [4, 20, 20]}, 20),
    "spiking_gridworld": ({"scenario": "gridworld_spiking.toml"}, 15),
    "reaching_nrl": (
        {
            "control.env": "synapse_sim/Reaching1D-v0",
            "network.layers": [32, 16, 3],
            "run.method": "nrl",
            "nrl.rpe": "time_step",
            "control.max_steps": 60,
        },
        4,
    ),
    "mountaincar_unit": (
        {
            "control.env": "MountainCar-v0",
            "network.layers": [2, 8, 3],
            "control.encoding": "unit",
            "control.max_steps": 200,
        },
        3,
    ),
}


def scenario_of(name: str):
    from synapse_sim import Scenario
    from synapse_sim.studies.control import base_scenario

    overrides, _ = CASES[name]
    overrides = dict(overrides)
    file = overrides.pop("scenario", None)
    base = Scenario.load(ROOT / "scenarios" / file) if file else base_scenario(overrides["control.env"])
    return base.with_overrides(overrides | {"run.seed": 3})


def trajectory(name: str) -> dict[str, np.ndarray]:
    """Run case ``name`` and return what is compared."""
    from synapse_sim.runner import make_engine

    engine = make_engine(scenario_of(name), "vector")
    results = engine.run(CASES[name][1])
    arrays = {
        "return": np.array([r.records["return"] for r in results]),
        "episode_length": np.array([r.records["episode_length"] for r in results]),
    }
    arrays.update({f"checkpoint_{k}": np.asarray(v) for k, v in engine.checkpoint().items()})
    return arrays


def main(names) -> None:
    for name in names or CASES:
        arrays = trajectory(name)
        np.savez_compressed(HERE / f"control_{name}.npz", **arrays)
        print(f"{name}: returns {arrays['return'][:5]} ... {arrays['return'][-1]}")


if __name__ == "__main__":
    main(sys.argv[1:])
