"""The agent view: a Mesa model with one :class:`SynapseAgent` per synapse.

The model is the population of the shared :class:`~synapse_sim.engine.simulation.Simulation`:
the simulation runs the step (randomness, passes, broadcast, shared state) and the model
keeps the memory in its agents, steps them with ``AgentSet.shuffle_do`` and collects
loss / broadcast / accuracy / action mix in a ``DataCollector``.
"""

from __future__ import annotations

from collections import deque

import mesa
import numpy as np

from .agents import FeedbackSynapseAgent, SynapseAgent
from .engine.footprint import check_fits
from .engine.simulation import NeuronData, Simulation, StepResult
from .scenario import Scenario
from .tasks import Task


class SynapseModel(mesa.Model):
    """Synapse agents on a networkx graph of neurons, trained by a global broadcast.

    Args:
        scenario: a :class:`Scenario` (default: the decision-boundary defaults).
        rng: Mesa's seed (it orders the shuffled activation). Without a scenario and
            without a ``seed`` parameter an int ``rng`` also becomes ``run.seed``, so
            ``mesa.batch_run(SynapseModel, ..., rng=[0, 1])`` varies runs.
        activation: order in which agents act: ``"shuffle"`` (Mesa's
            ``shuffle_do``), ``"sid"`` or ``"reverse"``. The result never depends on it.
        raster_length: how many recent steps of actions to keep for rasters.
        record_agents: also collect every agent's weight and action each step.
        task, rule: a task or rule object to use instead of the scenario's.
        **params: scenario overrides, ``epsilon=0.1`` or ``policy.epsilon=0.1`` style
            (what ``batch_run`` and SolaraViz pass).

    The scenario in force is ``config`` (``model.scenario`` is Mesa's own
    ``mesa.experimental.scenarios.Scenario``, which SolaraViz's Reset reads).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        rng=None,
        activation: str = "shuffle",
        raster_length: int = 200,
        record_agents: bool = False,
        task: Task | None = None,
        rule=None,
        **params,
    ):
        super().__init__(rng=rng)
        if scenario is None:
            scenario = Scenario()
            if isinstance(rng, (int, np.integer)) and "seed" not in params and "run.seed" not in params:
                params["run.seed"] = int(rng)
        self.config = scenario.with_overrides(params) if params else scenario
        check_fits(self.config, "agent")
        if activation not in ("shuffle", "sid", "reverse"):
            raise ValueError(f"activation must be 'shuffle', 'sid' or 'reverse', got {activation!r}")
        self.activation = activation
        self.simulation = Simulation(self.config, task, rule)
        self.topology = self.simulation.topology
        self.rule = self.simulation.rule
        self.task = self.simulation.task
        self.graph = self.topology.graph()
        self.iterations = self.config["run"]["iterations"]
        self.fields = {f.name: f for f in self.rule.memory_fields()}
        self.synapses = [SynapseAgent(self, sid, None, {}) for sid in range(self.topology.n_synapses)]
        self.feedback_synapses = self._feedback_synapses()
        self.load_memory(self.simulation.initial_memory())
        self.draws: dict = {}
        self.broadcast = None
        self._before = None
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

    def _feedback_synapses(self) -> list[FeedbackSynapseAgent]:
        """An agent per forward synapse on the reverse edge, when the rule keeps a ``reverse`` field."""
        reverse = [f.name for f in self.fields.values() if f.reverse]
        if not reverse:
            return []
        (name,) = reverse
        agents = [FeedbackSynapseAgent(self, synapse, name, None) for synapse in self.synapses]
        for agent in agents:
            self.graph.add_edge(agent.pre, agent.post, sid=agent.sid, feedback=True)
        return agents

    # --- the Population protocol, kept in agents -------------------------------------
    def _each(self, method: str, shuffle: bool = True) -> None:
        synapses = self.agents_by_type[SynapseAgent]
        if self.activation == "shuffle" and not shuffle:
            synapses.do(method)
        elif self.activation == "shuffle":
            synapses.shuffle_do(method)
        else:
            for agent in self.synapses if self.activation == "sid" else self.synapses[::-1]:
                getattr(agent, method)()

    def _reports(self) -> dict[str, np.ndarray]:
        keys = self.synapses[0].report.keys() if self.synapses else ()
        return {k: np.array([agent.report[k] for agent in self.synapses]) for k in keys}

    def propose(self, step: int, draws: dict):
        self.draws = draws
        self._before = None if self.rule.discrete_actions else self.weight_vector()
        self._each("propose")
        n_offsets = len(self.synapses[0].offsets) if self.synapses else 0
        dtype = self.simulation.dtype
        offsets = [np.array([a.offsets[k] for a in self.synapses], dtype=dtype) for k in range(n_offsets)]
        return offsets, self._reports()

    def update(self, step: int, broadcast, neurons: NeuronData) -> dict:
        self.broadcast = broadcast
        self._each("update", shuffle=False)
        if self._before is not None:
            signs = np.sign(self.weight_vector() - self._before) + 1
            for agent, action in zip(self.synapses, signs.astype(np.int8), strict=True):
                agent.action = int(action)
        return self._reports()

    def observe(self, step: int, neurons: NeuronData) -> dict:
        self._each("observe", shuffle=False)
        return self._reports()

    def actions(self) -> np.ndarray:
        return np.array([agent.action for agent in self.synapses], dtype=np.int8)

    def weight_vector(self) -> np.ndarray:
        return np.array([agent.weight for agent in self.synapses], dtype=self.simulation.dtype)

    def field(self, name: str) -> np.ndarray:
        f = self.fields[name]
        if f.reverse:
            return np.array([agent.weight for agent in self.feedback_synapses], dtype=f.dtype)
        if f.shared:
            return np.array(self.synapses[0].memory[name], dtype=f.dtype)
        return np.array([agent.memory[name] for agent in self.synapses], dtype=f.dtype)

    def memory(self) -> dict[str, np.ndarray]:
        out = {"weights": self.weight_vector()}
        for name, f in self.fields.items():
            if not f.derived:
                out[name] = self.field(name)
        return out

    def load_memory(self, memory) -> None:
        """Each synapse's weight and fields from arrays in sid order (a field ``memory`` lacks starts at its
        initial value). Each array is split into per-synapse scalars (or rows) once, not indexed per agent."""
        n = self.topology.n_synapses
        weights = list(np.asarray(memory["weights"], dtype=self.simulation.dtype))
        fields, reverse = [], None
        for name, f in self.fields.items():
            source = memory[name] if name in memory else f.initial(n)
            if f.reverse:
                reverse = list(np.asarray(source, dtype=f.dtype))
            elif f.shared:
                fields.append((name, True, np.asarray(source, dtype=f.dtype)))
            else:
                fields.append((name, False, list(np.array(source, dtype=f.dtype))))
        for agent in self.synapses:
            sid = agent.sid
            agent.weight = weights[sid]
            agent.memory = {name: values.copy() if shared else values[sid] for name, shared, values in fields}
            if reverse is not None:
                agent.feedback.weight = reverse[sid]

    def adopt(self, engine) -> None:
        """Take a vectorised engine's state as it stands: every field (the derived ones too, so nothing is
        recomputed agent by agent), the simulation's counters, last evaluation and shared state, the actions.
        The agents then continue exactly as the engine would (:meth:`restore` re-evaluates instead)."""
        self.load_memory({"weights": engine.population.weights, **engine.population.state})
        self.simulation.adopt(engine.simulation)
        for agent, action in zip(self.synapses, engine.population.actions().tolist(), strict=True):
            agent.action = action
        self.last_result = engine.last_result
        self.broadcast = None  # the engine keeps its step's broadcast to itself

    # --- Mesa ------------------------------------------------------------------------
    def step(self) -> None:
        self.last_result = self.simulation.step(self)
        self.action_log.append(self.actions())
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
