"""Q-AGREL (Pozzi, Bohte & Roelfsema 2018/2020) as a synapse-local rule.

Each example is a trial: the output units are Q values, one action is selected
(max-Boltzmann: greedy with probability 1 - epsilon, else a softmax sample), the reward
is 1 for the right class, and the reward-prediction error delta = r - q_s is broadcast.
Only the selected output sends feedback, through feedback synapses, gated at each
neuron by its derivative. A synapse's tag is its pre activity x its post neuron's gated
feedback, and it steps by alpha * mean_n delta_n * tag_n. With symmetric feedback and
epsilon = 0 this is one backprop step on 0.5 * (r - q_s)^2 (``tests/test_qagrel.py``).

Feedback variants (``qagrel.feedback``): ``symmetric`` (the feedback synapse of w_ij has
weight w_ij, as BrainProp computes it), ``learned`` (independently initialised, changed by
the same tag: dB = dW) and ``fixed`` (random and frozen: feedback alignment). The feedback
synapse from post neuron j back to pre neuron i is the reverse field ``feedback_weight`` of
synapse (i, j): in the agent view an agent of its own on the reverse edge of the neuron graph,
in the vectorised backend an array with the layout of the forward weights. One loss
evaluation per step.
See ``../shared/specs/qagrel-spiking.md`` section 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import Field, ScenarioError, step_field
from .base import Change, MemoryField, Pass, Rule, RuleContext, Trial, scalar, scheduled
from .registry import register_rule

FEEDBACK = ("symmetric", "learned", "fixed")
SECTIONS = {
    "qagrel": {
        "alpha": step_field(0.5, "learning rate alpha (the paper: 0.5 or 1)", "the Q-AGREL learning rate alpha"),
        "alpha_schedule": Field(
            "schedule", [], "[[iteration, alpha], ...]: alpha from that iteration on (the paper: cut at epoch 500)"
        ),
        "exploration": Field(
            "float", 0.02, "exploration probability epsilon: a softmax sample, not the greedy action", low=0.0, high=1.0
        ),
        "temperature": Field("float", 1.0, "Boltzmann temperature T of the exploration sample", low=1e-6),
        "feedback": Field(
            "str", "symmetric", "feedback synapses: symmetric, learned or fixed (random)", choices=FEEDBACK
        ),
        "feedback_scale": Field(
            "float", 0.05, "standard deviation of independently initialised feedback weights", low=0.0
        ),
    }
}


@dataclass(frozen=True)
class PredictionError:
    """Q-AGREL's broadcast: delta = r - q_s per trial, with the trials' actions and rewards."""

    delta: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    def __float__(self) -> float:
        return float(np.mean(self.rewards))


@register_rule
class QAgrel(Rule):
    """Attention-gated reinforcement learning: trials, one broadcast RPE per trial, gated feedback tags.

    Args:
        alpha: learning rate alpha (dW = alpha * mean_n delta_n * tag_n).
        alpha_schedule: ``[[iteration, alpha], ...]``.
        exploration: exploration probability epsilon of max-Boltzmann selection (``qagrel.exploration``).
        temperature: softmax temperature T of the exploration sample.
        feedback: ``"symmetric"``, ``"learned"`` or ``"fixed"``.
        feedback_scale: std of independently initialised feedback weights.
    """

    name = "qagrel"
    summary = "Q-AGREL: trials, broadcast delta = r - q_s per trial, tag = pre x gated feedback of the selected output"
    sections = SECTIONS
    needs = frozenset({"coincidence"})
    coincidence_signal = "feedback"
    needs_classes = True
    broadcast_label = "mean reward per trial"

    def __init__(
        self,
        alpha=0.5,
        exploration=0.02,
        temperature=1.0,
        feedback="symmetric",
        feedback_scale=0.05,
        alpha_schedule=(),
    ):
        self.alpha = alpha
        self.alpha_schedule = [list(x) for x in alpha_schedule]
        self.exploration = exploration
        self.temperature = temperature
        self.feedback = feedback
        self.feedback_scale = feedback_scale

    @staticmethod
    def check_scenario(scenario) -> None:
        if scenario["task"]["name"] == "decision_boundary":
            raise ScenarioError(
                "run.method = 'qagrel' needs a classification task (its outputs are Q values of the classes, one "
                "selected per trial); the decision boundary has one output: set task.name = 'notmnist'"
            )
        feedback = scenario["qagrel"]["feedback"]
        if feedback != "symmetric" and len(scenario["network"]["layers"]) < 3:
            raise ScenarioError(
                f"qagrel.feedback = {feedback!r} needs a hidden layer (network.layers = "
                f"{scenario['network']['layers']}): without one no feedback synapse is ever used; add a hidden layer "
                "or use 'symmetric'"
            )

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> QAgrel:
        return cls(**scenario["qagrel"])

    def params(self) -> dict:
        return {
            "alpha": self.alpha,
            "exploration": self.exploration,
            "temperature": self.temperature,
            "feedback": self.feedback,
            "feedback_scale": self.feedback_scale,
            "alpha_schedule": self.alpha_schedule,
        }

    def step_size(self, step: int) -> float:
        return scheduled(self.alpha, self.alpha_schedule, step)

    @property
    def keeps_feedback(self) -> bool:
        return self.feedback != "symmetric"

    def memory_fields(self) -> tuple[MemoryField, ...]:
        fields = (MemoryField("tag", "float64", scale=0.01),)
        if self.keeps_feedback:
            dtype = getattr(self, "dtype", np.dtype(np.float64)).name
            fields += (MemoryField("feedback_weight", dtype, scale=self.feedback_scale or 1.0, reverse=True),)
        return fields

    def initial_memory(self, rng, n_synapses: int) -> dict[str, np.ndarray]:
        if not self.keeps_feedback:
            return {}
        weights = rng.standard_normal(n_synapses) * self.feedback_scale
        weights[self.topology.is_bias] = 0  # the bias unit receives no feedback
        return {"feedback_weight": weights.astype(self.dtype)}

    def passes(self, step: int) -> tuple[Pass, ...]:
        source = "feedback_weight" if self.keeps_feedback else None
        return (Pass(trace=True, trial=Trial(self.exploration, self.temperature, source)),)

    def broadcast(self, evaluations, step: int) -> PredictionError:
        trials = evaluations[0].trace.trials
        return PredictionError(trials.rewards - trials.q_selected, trials.actions, trials.rewards)

    def coincidence_weights(self, broadcast: PredictionError) -> np.ndarray:
        return broadcast.delta

    def sample_broadcast(self, rng, n_examples: int = 8) -> PredictionError:
        rewards = (rng.random(n_examples) < 0.5).astype(np.float64)
        return PredictionError(rewards - rng.random(n_examples), rng.integers(0, 10, n_examples), rewards)

    def _update(self, ctx: RuleContext) -> Change:
        tag = ctx.coincidence  # mean_n delta_n * pre_i(n) * gated feedback_j(n)
        dw = scalar(self.dtype, self.step_size(ctx.step)) * tag
        memory = {"tag": tag}
        if self.feedback == "learned":
            memory["feedback_weight"] = ctx.memory["feedback_weight"] + dw
        return Change(dw=dw, memory=memory)

    update_local = _update
    update_batch = _update
