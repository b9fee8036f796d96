"""Environments of ours, registered with Gymnasium under the ``synapse_sim/`` namespace.

``synapse_sim/Gridworld-v0``: the spiking-agents paper's 10x10 stochastic gridworld
(:mod:`.gridworld`); ``synapse_sim/Reaching1D-v0``: the NRL paper's immediate-reward reaching
task, 300 steps a trial (:mod:`.reaching`). Importing this package registers them (the control
task does).
"""

from __future__ import annotations

import gymnasium

GRIDWORLD = "synapse_sim/Gridworld-v0"
REACHING = "synapse_sim/Reaching1D-v0"


def register_all() -> None:
    if GRIDWORLD not in gymnasium.envs.registry:
        gymnasium.register(
            GRIDWORLD,
            entry_point="synapse_sim.tasks.envs.gridworld:Gridworld",
            max_episode_steps=300,
            reward_threshold=10.0,
        )
    if REACHING not in gymnasium.envs.registry:
        gymnasium.register(REACHING, entry_point="synapse_sim.tasks.envs.reaching:Reaching1D", max_episode_steps=300)


register_all()
