"""The vectorised backend: the synapse population as NumPy arrays in sid order."""

from __future__ import annotations

import numpy as np

from .features import PopulationContext
from .scenario import Scenario
from .simulation import Simulation, StepResult
from .tasks import Task


class VectorPopulation:
    """All synapses' memory as arrays; implements the simulation's ``Population``."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.topology = simulation.topology
        self.state_space = simulation.state_space
        self.policy = simulation.policy
        self.load_memory(simulation.initial_memory())
        self.actions = None
        self.step_offset = self.topology.is_bias.astype(np.int8) * 3
        self.track_streak = simulation.track_streak

    def load_memory(self, memory) -> None:
        self.weights = np.array(memory["weights"], dtype=self.simulation.dtype)
        self.action_history = np.array(memory["action_history"], dtype=np.int8)
        self.reward_history = np.array(memory["reward_history"], dtype=np.int8)
        self.streak = np.array(memory["streak"], dtype=np.int32)

    def memory(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weights.copy(),
            "action_history": self.action_history.copy(),
            "reward_history": self.reward_history.copy(),
            "streak": self.streak.copy(),
        }

    def weight_vector(self) -> np.ndarray:
        return self.weights

    def context(self, activity=None) -> PopulationContext:
        pre = post = None
        if activity is not None:
            topo = self.topology
            pre = np.concatenate([activity[layer][topo.row[topo.layer == layer]] for layer in range(topo.n_layers)])
            post = np.concatenate(
                [activity[layer + 1][topo.col[topo.layer == layer]] for layer in range(topo.n_layers)]
            )
        return PopulationContext(
            action_history=self.action_history,
            reward_history=self.reward_history,
            weight=self.weights,
            is_bias=self.topology.is_bias,
            streak=self.streak,
            pre_activity=pre,
            post_activity=post,
        )

    def observe(self, activity) -> np.ndarray:
        return self.state_space.index_batch(self.context(activity))

    def act(self, explore, random_actions, step_table) -> np.ndarray:
        actions = self.policy.act(self.simulation.states, explore, random_actions)
        self.weights += step_table.ravel().take(self.step_offset + actions)
        if self.track_streak:
            same = actions == self.action_history[:, 0]
            self.streak = np.where(same, self.streak + 1, 1).astype(np.int32)
        self.action_history[:, 1:] = self.action_history[:, :-1]
        self.action_history[:, 0] = actions
        self.actions = actions
        return actions

    def broadcast(self, reward: int) -> None:
        self.reward_history[1:] = self.reward_history[:-1]
        self.reward_history[0] = reward


class VectorEngine:
    """A simulation on the vectorised population: ``VectorEngine(scenario).run(1000)``."""

    def __init__(self, scenario: Scenario, task: Task | None = None):
        self.simulation = Simulation(scenario, task)
        self.population = VectorPopulation(self.simulation)
        self.simulation.start(self.population)
        self.last_result: StepResult | None = None

    @property
    def step_count(self) -> int:
        return self.simulation.step_count

    def step(self) -> StepResult:
        self.last_result = self.simulation.step(self.population)
        return self.last_result

    def run(self, n_steps: int) -> list[StepResult]:
        return [self.step() for _ in range(n_steps)]

    def checkpoint(self) -> dict[str, np.ndarray]:
        return self.simulation.checkpoint(self.population)

    def restore(self, state) -> None:
        self.simulation.restore(self.population, state)

    def weight_matrices(self) -> list[np.ndarray]:
        return self.simulation.topology.matrices(self.population.weights)
