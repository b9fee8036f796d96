"""The vectorised backend: the synapse population as NumPy arrays in sid order."""

from __future__ import annotations

import numpy as np

from ..rules import Change, RuleContext
from ..scenario import Scenario
from ..tasks import Task
from .simulation import NeuronData, Simulation, StepResult


def neuron_indices(topology) -> tuple[np.ndarray, np.ndarray]:
    """Each synapse's pre and post neuron as an index into the concatenated per-layer activity (sid order)."""
    starts = np.concatenate([[0], np.cumsum([size + 1 for size in topology.layer_sizes])])
    layer = topology.layer.astype(np.int64)
    return starts[layer] + topology.row, starts[layer + 1] + topology.col


class VectorPopulation:
    """All synapses' memory as arrays; implements the simulation's ``Population``."""

    def __init__(self, simulation: Simulation):
        self.simulation = simulation
        self.topology = simulation.topology
        self.rule = simulation.rule
        self.fields = {f.name: f for f in self.rule.memory_fields()}
        self.sids = np.arange(self.topology.n_synapses)
        self.load_memory(simulation.initial_memory())
        self._actions = np.ones(self.topology.n_synapses, dtype=np.int8)
        self._before = None
        self._pre_index, self._post_index = neuron_indices(self.topology)
        self._ends = (None, (None, None))  # (the NeuronData they were read from, (pre, post))

    def neuron_ends(self, neurons: NeuronData | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Each synapse's pre and post neuron activity, read once per step's neuron data."""
        if neurons is None or neurons.activity is None:
            return None, None
        if self._ends[0] is not neurons:
            flat = np.concatenate(neurons.activity)
            self._ends = (neurons, (flat[self._pre_index], flat[self._post_index]))
        return self._ends[1]

    def load_memory(self, memory) -> None:
        self.weights = np.array(memory["weights"], dtype=self.simulation.dtype)
        n = self.topology.n_synapses
        self.state = {name: f.initial(n) for name, f in self.fields.items()}
        for name in self.state:
            if name in memory:
                self.state[name] = np.array(memory[name], dtype=self.fields[name].dtype)

    def memory(self) -> dict[str, np.ndarray]:
        out = {"weights": self.weights.copy()}
        out.update({k: v.copy() for k, v in self.state.items() if not self.fields[k].derived})
        return out

    def weight_vector(self) -> np.ndarray:
        return self.weights

    def field(self, name: str) -> np.ndarray:
        return self.state[name]

    def context(self, step: int, draws=None, broadcast=None, neurons: NeuronData | None = None) -> RuleContext:
        pre, post = self.neuron_ends(neurons)
        return RuleContext(
            step=step,
            sid=self.sids,
            weight=self.weights,
            is_bias=self.topology.is_bias,
            memory=self.state,
            draws=draws or {},
            broadcast=broadcast,
            pre_activity=pre,
            post_activity=post,
            coincidence=neurons.coincidence if neurons else None,
        )

    def apply(self, change: Change) -> dict:
        if change.dw is not None:
            self.weights += change.dw
        for name, value in change.memory.items():
            self.state[name] = np.asarray(value, dtype=self.fields[name].dtype)
        return dict(change.report)

    def propose(self, step: int, draws: dict):
        self._before = None if self.rule.discrete_actions else self.weights.copy()
        change = self.rule.propose_batch(self.context(step, draws))
        reports = self.apply(change)
        if self.rule.discrete_actions:
            self._actions = reports["action"]
        return list(change.offsets), reports

    def update(self, step: int, broadcast, neurons: NeuronData) -> dict:
        reports = self.apply(self.rule.update_batch(self.context(step, None, broadcast, neurons)))
        if self._before is not None:
            self._actions = (np.sign(self.weights - self._before) + 1).astype(np.int8)
        return reports

    def observe(self, step: int, neurons: NeuronData) -> dict:
        return self.apply(self.rule.observe_batch(self.context(step, None, None, neurons)))

    def actions(self) -> np.ndarray:
        return self._actions


class VectorEngine:
    """A simulation on the vectorised population: ``VectorEngine(scenario).run(1000)``."""

    def __init__(self, scenario: Scenario, task: Task | None = None, rule=None):
        self.simulation = Simulation(scenario, task, rule)
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
