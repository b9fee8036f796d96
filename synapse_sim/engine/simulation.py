"""One step, as both views do it, for every rule (docs/DESIGN.md; :mod:`synapse_sim.rules.base`).

:class:`Simulation` owns what is global: the step counter, the task, the rule and its
shared state, the randomness and the counting of loss evaluations. The synapses'
memory lives in a *population*: arrays in :class:`~synapse_sim.engine.vector.VectorPopulation`,
Mesa agents in :class:`~synapse_sim.model.SynapseModel`. Both implement the small
:class:`Population` protocol and are driven by the same :meth:`Simulation.step`, so
the step order exists once and the mirror test compares the two ways of keeping memory.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..randomness import (
    STREAM_EPISODE,
    STREAM_INIT,
    STREAM_MEMORY,
    STREAM_NOISE,
    STREAM_STEP,
    STREAM_TRIAL,
    generator,
)
from ..rules import Pass, Rule, make_rule
from ..scenario import Scenario
from ..tasks import Evaluation, NeuronNoise, Task, build_task, correlate
from ..tasks.episodes import EpisodeSpec
from ..tasks.trials import TrialSpec
from .footprint import check_fits
from .topology import Topology, initial_weights

N_ACTIONS = 3
PLAIN_PASS = Pass()


def scenario_initial_weights(scenario: Scenario, topology: Topology) -> np.ndarray:
    """The run's initial weights (sid order): the same for every rule, view and the gradient baseline."""
    network = scenario["network"]
    seed = network["init_seed"] if network["init_seed"] >= 0 else scenario["run"]["seed"]
    rng = generator(seed, STREAM_INIT)
    return initial_weights(topology, rng, network["init_range"], np.dtype(network["dtype"]), network["init"])


@dataclass
class StepResult:
    """What one step did. ``reward`` is the rule's broadcast as one number (synaptic RL: R_t);
    ``action_counts`` counts decrement / keep / increment (the sign of the weight change for
    rules without discrete actions); ``evaluations`` the loss evaluations so far;
    ``records`` what else the run's history keeps of this step: for trial rules (Q-AGREL,
    error-backprop) per class how often it was ``selected``, selected rightly (``correct``) and
    ``presented`` (the paper's Fig. 6), and the numbers the task records (an episode's
    ``return`` and ``episode_length``)."""

    step: int
    loss: float
    accuracy: float
    reward: float
    action_counts: np.ndarray
    step_size: float
    evaluations: int
    records: dict = field(default_factory=dict)

    @property
    def class_counts(self) -> np.ndarray | None:
        """(3, n_classes): selected, selected rightly, presented (trial rules), else None."""
        if "selected" not in self.records:
            return None
        return np.stack([self.records[k] for k in ("selected", "correct", "presented")])


@dataclass(frozen=True)
class NeuronData:
    """Neuron-level inputs a rule asked for, in sid order: its two neurons' mean activity, the coincidence."""

    activity: list[np.ndarray] | None = None
    coincidence: np.ndarray | None = None


class Population(Protocol):
    """Where the synapses' memory lives; the simulation drives it phase by phase."""

    def propose(self, step: int, draws: dict) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Every synapse proposes; returns the weight offsets per pass and the reports, in sid order."""

    def update(self, step: int, broadcast, neurons: NeuronData) -> dict[str, np.ndarray]: ...

    def observe(self, step: int, neurons: NeuronData) -> dict[str, np.ndarray]: ...

    def weight_vector(self) -> np.ndarray:
        """All weights in sid order."""

    def actions(self) -> np.ndarray:
        """This step's action per synapse (or the sign of its weight change + 1), sid order."""

    def memory(self) -> dict[str, np.ndarray]:
        """Weights and the rule's non-derived memory, as arrays in sid order (checkpoints, comparisons)."""

    def load_memory(self, memory: dict[str, np.ndarray]) -> None: ...

    def field(self, name: str) -> np.ndarray:
        """One memory field of every synapse, sid order (read-only use)."""
        ...


def flatten(matrices: list[np.ndarray]) -> np.ndarray:
    """Per-layer matrices (weight layout) back to one vector in sid order."""
    return np.concatenate([m.ravel() for m in matrices])


class Simulation:
    """Global state and the step order shared by both views."""

    def __init__(self, scenario: Scenario, task: Task | None = None, rule: Rule | None = None):
        check_fits(scenario, "vector")
        self.scenario = scenario
        network = scenario["network"]
        self.seed = scenario["run"]["seed"]
        self.dtype = np.dtype(network["dtype"])
        self.topology = Topology.from_layers(network["layers"])
        self.rule = (
            rule.bind(self.topology, self.dtype) if rule is not None else make_rule(scenario, self.topology, self.dtype)
        )
        self.task = task if task is not None else build_task(scenario, self.dtype)
        self.step_count = 0
        self.evaluations = 0
        self.last: Evaluation | None = None
        self.neurons = NeuronData()

    def initial_weights(self) -> np.ndarray:
        return scenario_initial_weights(self.scenario, self.topology)

    def initial_memory(self) -> dict[str, np.ndarray]:
        """Weights at their initial draw, the rule's memory at its initial values (random ones keyed by the seed)."""
        n = self.topology.n_synapses
        memory = {"weights": self.initial_weights()}
        memory.update({f.name: f.initial(n) for f in self.rule.memory_fields()})
        memory.update(self.rule.initial_memory(generator(self.seed, STREAM_MEMORY), n))
        return memory

    # --- evaluation ------------------------------------------------------------------
    def evaluate(
        self, weights: np.ndarray, step: int, spec: Pass = PLAIN_PASS, count: bool = True, feedback=None
    ) -> Evaluation:
        """One forward pass of the weights (sid order) on the batch of ``step``; counted as a loss evaluation.

        ``feedback``: a trial pass's feedback weights (sid order), when the rule keeps them."""
        extra = {}
        if spec.noise_std:
            extra["noise"] = NeuronNoise(spec.noise_std, lambda layer: generator(self.seed, STREAM_NOISE, step, layer))
        if spec.trace:
            extra["trace"] = True
        if spec.episode is not None:
            e = spec.episode
            rng = generator(self.seed, STREAM_EPISODE, step)
            extra["episode"] = EpisodeSpec(rng=rng, **dataclasses.asdict(e))
        if spec.trial is not None:
            trial = spec.trial
            matrices = None if feedback is None else self.topology.matrices(feedback)
            rng = generator(self.seed, STREAM_TRIAL, step)
            extra["trial"] = TrialSpec(trial.epsilon, trial.temperature, rng, matrices, trial.output)
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported by the task
            evaluation = self.task.evaluate(self.topology.matrices(weights), step, need_activity=spec.activity, **extra)
        self.evaluations += int(count)
        return evaluation

    def neuron_data(self, evaluations: list[Evaluation], passes, broadcast=None) -> NeuronData:
        activity = next((e.activity for e in evaluations if e.activity is not None), None)
        coincidence = None
        if "coincidence" in self.rule.needs and broadcast is not None:
            signal = self.rule.coincidence_signal
            traced = next(e for e in evaluations if e.trace is not None and getattr(e.trace, signal) is not None)
            coincidence = flatten(correlate(traced.trace, self.rule.coincidence_weights(broadcast), signal))
        return NeuronData(activity, coincidence)

    @staticmethod
    def recorded(evaluations: list[Evaluation], passes) -> Evaluation:
        chosen = [e for e, p in zip(evaluations, passes, strict=True) if p.record] or evaluations
        if len(chosen) == 1:
            return chosen[0]
        return Evaluation(
            float(np.mean([e.loss for e in chosen])),
            float(np.mean([e.accuracy for e in chosen])),
            next((e.activity for e in chosen if e.activity is not None), None),
        )

    # --- the step ----------------------------------------------------------------------
    def start(self, population: Population) -> None:
        """Evaluate the network as it stands (L_0 on the batch of step 1) and every synapse's derived memory."""
        rule = self.rule
        first = self.step_count == 0
        self.last = self.evaluate(population.weight_vector(), max(self.step_count, 1), rule.start_pass(), count=False)
        if rule.needs_reference and first:
            rule.reference(self.last)
            self.evaluations += 1
        self.neurons = NeuronData(self.last.activity)
        population.observe(self.step_count, self.neurons)

    def step(self, population: Population) -> StepResult:
        t = self.step_count + 1
        rule = self.rule
        if rule.needs_reference and t > 1 and self.task.batch_id(t) != self.task.batch_id(t - 1):
            rule.reference(self.evaluate(population.weight_vector(), t))
        rule.begin_step(t)
        draws = rule.draw(generator(self.seed, STREAM_STEP, t), self.topology.n_synapses, t)
        offsets, reports = population.propose(t, draws)
        passes = rule.passes(t)
        weights = population.weight_vector()
        evaluations = [
            self.evaluate(
                weights if p.offset is None else weights + offsets[p.offset],
                t,
                p,
                feedback=self._feedback(p, population),
            )
            for p in passes
        ]
        broadcast = rule.broadcast(evaluations, t)
        self.last = self.recorded(evaluations, passes)
        self.neurons = self.neuron_data(evaluations, passes, broadcast)
        reports.update(population.update(t, broadcast, self.neurons))
        reports.update(population.observe(t, self.neurons))
        rule.learn(reports, broadcast, t)
        self.step_count = t
        return StepResult(
            t,
            self.last.loss,
            self.last.accuracy,
            rule.summarize(broadcast),
            np.bincount(population.actions(), minlength=N_ACTIONS),
            rule.step_size(t),
            self.evaluations,
            self.step_records(evaluations),
        )

    def step_records(self, evaluations: list[Evaluation]) -> dict:
        records = {}
        for e in evaluations:
            records.update(e.records or {})
        trials = next((e.trace.trials for e in evaluations if e.trace is not None and e.trace.trials is not None), None)
        if trials is not None:
            n_classes = self.topology.layer_sizes[-1]
            right = trials.actions[trials.rewards > 0]
            for name, actions in (("selected", trials.actions), ("correct", right), ("presented", trials.labels)):
                records[name] = np.bincount(actions, minlength=n_classes)
        return records

    @staticmethod
    def _feedback(spec: Pass, population: Population):
        if spec.trial is None or spec.trial.feedback is None:
            return None
        return population.field(spec.trial.feedback)

    # --- checkpoints --------------------------------------------------------------------
    def checkpoint(self, population: Population) -> dict[str, np.ndarray]:
        return {
            **population.memory(),
            "step": np.array(self.step_count),
            "evaluations": np.array(self.evaluations),
            **self.rule.shared_state(),
        }

    def adopt(self, source: Simulation) -> None:
        """Continue from another simulation of the same scenario as it stands (its population's memory
        is loaded separately): its counters, last evaluation, neuron data and shared state."""
        self.step_count, self.evaluations = source.step_count, source.evaluations
        self.last, self.neurons = source.last, source.neurons
        self.rule.load_shared_state(source.rule.shared_state())

    def restore(self, population: Population, state: dict[str, np.ndarray]) -> None:
        names = ["weights", *(f.name for f in self.rule.memory_fields() if not f.derived)]
        missing = [k for k in names if k not in state]
        if missing:
            raise ValueError(f"checkpoint lacks {missing}: it was written for another learning rule")
        population.load_memory({k: state[k] for k in names})
        self.step_count = int(state["step"])
        self.evaluations = int(state.get("evaluations", 0))
        self.rule.load_shared_state(state)
        self.start(population)
