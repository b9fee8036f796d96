"""One step, as both views do it (DESIGN.md "One step").

:class:`Simulation` owns what is global: the step counter, the task, the shared
policy, the last loss and the randomness. The synapses' memory lives in a
*population*: arrays in :class:`~synapse_sim.vector.VectorPopulation`, Mesa
agents in :class:`~synapse_sim.model.SynapseModel`. Both implement the small
:class:`Population` protocol and are driven by the same :meth:`Simulation.step`,
so the step semantics exist once and the mirror test compares the two ways of
keeping memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .features import StateSpace
from .policy import N_ACTIONS, Policy, resolve_policy_path
from .scenario import Scenario
from .tasks import DecisionBoundaryTask, Evaluation, Task
from .topology import Topology, initial_weights

STREAM_STEP, STREAM_INIT, STREAM_DATA, STREAM_BATCH = 0, 1, 2, 3


def generator(seed: int, stream: int, *keys: int) -> np.random.Generator:
    """A generator keyed by (seed, stream, keys...): the same numbers in any process or order."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), stream, *map(int, keys)])))


def step_randomness(seed: int, step: int, n_synapses: int, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Which synapses explore at step ``step`` and the random action of each, indexed by sid.

    Synapse ``sid`` explores when its uniform draw is below epsilon; the explorers,
    in sid order, then draw their random actions (zero elsewhere). Drawing actions
    only for explorers keeps the cost low when epsilon is small.
    """
    g = generator(seed, STREAM_STEP, step)
    explore = g.random(n_synapses, dtype=np.float32) < np.float32(epsilon)
    random_actions = np.zeros(n_synapses, dtype=np.int8)
    random_actions[explore] = g.integers(0, N_ACTIONS, int(np.count_nonzero(explore)), dtype=np.int8)
    return explore, random_actions


def reward_for(loss: float, previous_loss: float) -> int:
    """R_t = +1 if the loss fell, else -1 (equal counts as -1)."""
    return 1 if loss < previous_loss else -1


class WeightSteps:
    """Weight change per (is_bias, action): ``(a - 1) * alpha_s``, bias synapses scaled.

    ``table`` has shape (2, 3); ``table.ravel()[3 * is_bias + a]`` is a synapse's step.

    alpha_s (the paper's synaptic step) follows ``schedule`` ``[[iteration, value], ...]``.
    """

    def __init__(self, alpha_s: float, bias_step_scale: float, dtype, schedule=()):
        self.base = float(alpha_s)
        self.bias_step_scale = float(bias_step_scale)
        self.dtype = np.dtype(dtype)
        self.schedule = [(int(i), float(v)) for i, v in schedule]
        self.alpha_s = None
        self.table = None
        self.set_step(1)

    def alpha_s_at(self, step: int) -> float:
        value = self.base
        for start, scheduled in self.schedule:
            if step >= start:
                value = scheduled
        return value

    def set_step(self, step: int) -> np.ndarray:
        alpha = self.alpha_s_at(step)
        if alpha != self.alpha_s:
            self.alpha_s = alpha
            units = np.arange(N_ACTIONS) - 1.0
            self.table = np.array([units * alpha, units * alpha * self.bias_step_scale]).astype(self.dtype)
        return self.table


@dataclass
class StepResult:
    step: int
    loss: float
    accuracy: float
    reward: int
    action_counts: np.ndarray
    alpha_s: float


class Population(Protocol):
    """Where the synapses' memory lives; the simulation drives it."""

    def observe(self, activity) -> np.ndarray:
        """Compute (and remember) every synapse's state; return them in sid order."""

    def act(self, explore: np.ndarray, random_actions: np.ndarray, step_table: np.ndarray) -> np.ndarray:
        """Each synapse chooses from its remembered state, steps its weight, remembers its action."""

    def broadcast(self, reward: int) -> None:
        """Every synapse remembers the global reward."""

    def weight_vector(self) -> np.ndarray:
        """All weights in sid order."""

    def memory(self) -> dict[str, np.ndarray]:
        """The synapses' memory as arrays in sid order (for checkpoints and comparisons)."""

    def load_memory(self, memory: dict[str, np.ndarray]) -> None: ...


def build_task(scenario: Scenario, dtype) -> Task:
    task = scenario["task"]
    network = scenario["network"]
    seed = task["data_seed"] if task["data_seed"] is not None else scenario["run"]["seed"]
    if task["name"] == "decision_boundary":
        return DecisionBoundaryTask(
            network["layers"],
            generator(seed, STREAM_DATA),
            n_points=task["n_points"],
            extent=task["extent"],
            target_range=task["target_range"],
            hidden_activation=network["hidden_activation"],
            dtype=dtype,
        )
    from .ocr import build_ocr_task

    return build_ocr_task(scenario, dtype)


def build_policy(scenario: Scenario, state_space: StateSpace) -> Policy:
    p = scenario["policy"]
    kwargs = dict(epsilon=p["epsilon"], alpha_q=p["alpha_q"], gamma=p["gamma"], adaptive=p["mode"] == "adaptive")
    if p["file"]:
        return Policy.load(resolve_policy_path(p["file"]), state_space, **kwargs)
    return Policy(state_space, **kwargs)


class Simulation:
    """Global state and the step semantics shared by both views."""

    def __init__(self, scenario: Scenario, task: Task | None = None):
        self.scenario = scenario
        network = scenario["network"]
        self.seed = scenario["run"]["seed"]
        self.dtype = np.dtype(network["dtype"])
        self.topology = Topology.from_layers(network["layers"])
        self.state_space = StateSpace.from_spec(scenario["state"]["features"])
        self.policy = build_policy(scenario, self.state_space)
        self.task = task if task is not None else build_task(scenario, self.dtype)
        self.weight_steps = WeightSteps(
            scenario["synapse"]["alpha_s"],
            network["bias_step_scale"],
            self.dtype,
            scenario["synapse"]["alpha_s_schedule"],
        )
        self.need_activity = "activity" in self.state_space.needs
        self.track_streak = "streak" in self.state_space.needs
        self.step_count = 0
        self.q_sum = np.zeros_like(self.policy.q)
        self.q_count = 0
        self.average_start = int(scenario["policy"]["average_from"] * scenario["run"]["iterations"])
        self.previous_loss = None
        self.last: Evaluation | None = None
        self.states = None

    def initial_weights(self) -> np.ndarray:
        return initial_weights(
            self.topology, generator(self.seed, STREAM_INIT), self.scenario["network"]["init_range"], self.dtype
        )

    def initial_memory(self) -> dict[str, np.ndarray]:
        """Memory starts at "keep" and "no reward yet", weights at their initial draw."""
        n = self.topology.n_synapses
        return {
            "weights": self.initial_weights(),
            "action_history": np.ones((n, self.state_space.action_memory), dtype=np.int8),
            "reward_history": np.zeros(self.state_space.reward_memory, dtype=np.int8),
            "streak": np.zeros(n, dtype=np.int32),
        }

    def evaluate(self, population: Population, step: int) -> Evaluation:
        weights = self.topology.matrices(population.weight_vector())
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is reported by the task
            return self.task.evaluate(weights, step, need_activity=self.need_activity)

    def start(self, population: Population) -> None:
        """Evaluate the initial network (L_0 on the batch of step 1) and every synapse's first state."""
        self.last = self.evaluate(population, max(self.step_count, 1))
        if self.step_count == 0:
            self.previous_loss = self.last.loss
        self.states = population.observe(self.last.activity)

    def step(self, population: Population) -> StepResult:
        t = self.step_count + 1
        if t > 1 and self.task.batch_id(t) != self.task.batch_id(t - 1):
            self.previous_loss = self.evaluate(population, t).loss
        explore, random_actions = step_randomness(self.seed, t, self.topology.n_synapses, self.policy.epsilon)
        table = self.weight_steps.set_step(t)
        states = self.states
        actions = population.act(explore, random_actions, table)
        self.last = self.evaluate(population, t)
        reward = reward_for(self.last.loss, self.previous_loss)
        self.previous_loss = self.last.loss
        population.broadcast(reward)
        self.states = population.observe(self.last.activity)
        self.policy.update(states, actions, self.states, reward)
        if self.policy.adaptive and t > self.average_start:
            self.q_sum += self.policy.q
            self.q_count += 1
        self.step_count = t
        return StepResult(
            t,
            self.last.loss,
            self.last.accuracy,
            reward,
            np.bincount(actions, minlength=N_ACTIONS),
            self.weight_steps.alpha_s,
        )

    def averaged_policy(self) -> Policy:
        """The Q table averaged over the averaging window (an adaptive policy's table drifts
        step to step; its time average is the stable rule to reuse frozen)."""
        q = self.q_sum / self.q_count if self.q_count else self.policy.q
        p = self.policy
        return Policy(self.state_space, p.epsilon, p.alpha_q, p.gamma, adaptive=False, q=q)

    def checkpoint(self, population: Population) -> dict[str, np.ndarray]:
        return {
            **population.memory(),
            "step": np.array(self.step_count),
            "previous_loss": np.array(self.previous_loss, dtype=np.float64),
            "q": self.policy.q.copy(),
            "q_sum": self.q_sum.copy(),
            "q_count": np.array(self.q_count),
        }

    def restore(self, population: Population, state: dict[str, np.ndarray]) -> None:
        population.load_memory({k: state[k] for k in ("weights", "action_history", "reward_history", "streak")})
        self.step_count = int(state["step"])
        self.previous_loss = float(state["previous_loss"])
        self.policy.q[...] = state["q"]
        self.q_sum[...] = state["q_sum"]
        self.q_count = int(state["q_count"])
        self.policy._refresh_greedy()
        self.start(population)
