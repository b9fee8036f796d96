"""The agent view: a Mesa model with one :class:`SynapseAgent` per synapse.

The model is the population of the shared :class:`~synapse_sim.simulation.Simulation`:
the simulation runs the step (randomness, reward, learning) and the model keeps
the memory in its agents, steps them with ``AgentSet.shuffle_do`` and collects
loss / reward / accuracy / action mix in a ``DataCollector``.
"""

from __future__ import annotations

from collections import deque

import mesa
import numpy as np

from .agents import SynapseAgent
from .scenario import Scenario
from .simulation import Simulation, StepResult
from .tasks import Task


class SynapseModel(mesa.Model):
    """Synapse agents on a networkx graph of neurons, trained by a global reward.

    Args:
        scenario: a :class:`Scenario` (default: the decision-boundary defaults).
        rng: Mesa's seed (it orders the shuffled activation). Without a scenario and
            without a ``seed`` parameter an int ``rng`` also becomes ``run.seed``, so
            ``mesa.batch_run(SynapseModel, ..., rng=[0, 1])`` varies runs.
        activation: order in which agents act: ``"shuffle"`` (Mesa's
            ``shuffle_do``), ``"sid"`` or ``"reverse"``. The result never depends on it.
        raster_length: how many recent steps of actions to keep for rasters.
        record_agents: also collect every agent's weight and action each step.
        **params: scenario overrides, ``epsilon=0.1`` or ``policy.epsilon=0.1`` style
            (what ``batch_run`` and SolaraViz pass).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        rng=None,
        activation: str = "shuffle",
        raster_length: int = 200,
        record_agents: bool = False,
        task: Task | None = None,
        **params,
    ):
        super().__init__(rng=rng)
        if scenario is None:
            scenario = Scenario()
            if isinstance(rng, (int, np.integer)) and "seed" not in params and "run.seed" not in params:
                params["run.seed"] = int(rng)
        self.scenario = scenario.with_overrides(params) if params else scenario
        if activation not in ("shuffle", "sid", "reverse"):
            raise ValueError(f"activation must be 'shuffle', 'sid' or 'reverse', got {activation!r}")
        self.activation = activation
        self.simulation = Simulation(self.scenario, task)
        self.topology = self.simulation.topology
        self.state_space = self.simulation.state_space
        self.policy = self.simulation.policy
        self.task = self.simulation.task
        self.graph = self.topology.graph()
        self.iterations = self.scenario["run"]["iterations"]
        memory = self.simulation.initial_memory()
        dtype = self.simulation.dtype.type
        self.synapses = [
            SynapseAgent(
                self,
                sid,
                dtype(memory["weights"][sid]),
                memory["action_history"][sid],
                memory["reward_history"],
                memory["streak"][sid],
            )
            for sid in range(self.topology.n_synapses)
        ]
        self.activity = None
        self.explore = self.random_actions = self.step_table = None
        self.last_result: StepResult | None = None
        self.action_log = deque(maxlen=raster_length)
        self.reward_log = deque(maxlen=raster_length)
        self.simulation.start(self)

        agent_reporters = {"weight": "weight", "action": "action"} if record_agents else None
        self.datacollector = mesa.DataCollector(
            model_reporters={
                "loss": lambda m: m.simulation.last.loss,
                "accuracy": lambda m: m.simulation.last.accuracy,
                "reward": lambda m: m.last_result.reward if m.last_result else 0,
                "decrement": lambda m: m.action_fraction(0),
                "keep": lambda m: m.action_fraction(1),
                "increment": lambda m: m.action_fraction(2),
            },
            agent_reporters=agent_reporters,
        )
        self.running = True
        self.datacollector.collect(self)

    # --- the Population protocol, kept in agents -------------------------------------
    def observe(self, activity) -> np.ndarray:
        self.activity = activity
        self.agents.do("observe")
        return np.array([agent.state for agent in self.synapses], dtype=np.int64)

    def act(self, explore, random_actions, step_table) -> np.ndarray:
        self.explore, self.random_actions, self.step_table = explore, random_actions, step_table
        if self.activation == "shuffle":
            self.agents.shuffle_do("act")
        else:
            order = self.synapses if self.activation == "sid" else self.synapses[::-1]
            for agent in order:
                agent.act()
        return np.array([agent.action for agent in self.synapses], dtype=np.int8)

    def broadcast(self, reward: int) -> None:
        self.agents.do("receive_reward", reward)

    def weight_vector(self) -> np.ndarray:
        return np.array([agent.weight for agent in self.synapses], dtype=self.simulation.dtype)

    def memory(self) -> dict[str, np.ndarray]:
        return {
            "weights": self.weight_vector(),
            "action_history": np.array([a.action_history for a in self.synapses], dtype=np.int8),
            "reward_history": np.array(self.synapses[0].reward_history, dtype=np.int8),
            "streak": np.array([a.streak for a in self.synapses], dtype=np.int32),
        }

    def load_memory(self, memory) -> None:
        dtype = self.simulation.dtype.type
        for agent in self.synapses:
            agent.weight = dtype(memory["weights"][agent.sid])
            agent.action_history = [int(a) for a in memory["action_history"][agent.sid]]
            agent.reward_history = [int(r) for r in memory["reward_history"]]
            agent.streak = int(memory["streak"][agent.sid])

    # --- Mesa ------------------------------------------------------------------------
    def step(self) -> None:
        self.last_result = self.simulation.step(self)
        self.action_log.append(np.array([a.action for a in self.synapses], dtype=np.int8))
        self.reward_log.append(self.last_result.reward)
        self.datacollector.collect(self)
        if self.simulation.step_count >= self.iterations:
            self.running = False

    def action_fraction(self, action: int) -> float:
        if self.last_result is None:
            return 0.0
        return float(self.last_result.action_counts[action] / self.topology.n_synapses)

    def weight_matrices(self) -> list[np.ndarray]:
        return self.topology.matrices(self.weight_vector())

    def checkpoint(self) -> dict[str, np.ndarray]:
        return self.simulation.checkpoint(self)

    def restore(self, state) -> None:
        self.simulation.restore(self, state)

    def synapse(self, sid: int) -> SynapseAgent:
        return self.synapses[sid]
