"""Error-backprop on the engine's own step: Q-AGREL's twin, with the same minibatches, weights and schedule.

Not a local rule: every output's cross-entropy error, onehot(label) - softmax(q), travels back
through the forward weights (weight transport), gated at each neuron by its derivative, and each
synapse steps by the learning rate times pre activity x that error, averaged over the minibatch:
plain minibatch SGD on the cross-entropy. It runs on the same trial machinery as Q-AGREL
(:class:`synapse_sim.rules.Trial` with ``output = "error"``), so the two differ only in what
reaches the synapse. One loss evaluation (a forward and a backward pass) per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import Field, ScenarioError, step_field
from .base import Change, Pass, Rule, RuleContext, Trial, scalar, scheduled
from .registry import register_rule

SECTIONS = {
    "backprop": {
        "learning_rate": step_field(
            0.05, "learning rate (the Q-AGREL paper's error-backprop: 0.05 or 0.1)", "the error-backprop learning rate"
        ),
        "learning_rate_schedule": Field(
            "schedule", [], "[[iteration, learning_rate], ...]: the rate from that iteration on"
        ),
    }
}


@dataclass(frozen=True)
class Correct:
    """What error-backprop 'broadcasts': nothing a synapse uses; the records keep the minibatch accuracy."""

    correct: np.ndarray

    def __float__(self) -> float:
        return float(np.mean(self.correct))


@register_rule
class ErrorBackprop(Rule):
    """Minibatch SGD on the softmax cross-entropy, as a rule on the engine's step (the non-local baseline).

    Args:
        learning_rate: the SGD step.
        learning_rate_schedule: ``[[iteration, learning_rate], ...]``.
    """

    name = "error_backprop"
    summary = "error-backprop (not local): every output's cross-entropy error sent back through the forward weights"
    sections = SECTIONS
    needs = frozenset({"coincidence"})
    coincidence_signal = "feedback"
    needs_classes = True
    broadcast_label = "minibatch accuracy"

    def __init__(self, learning_rate=0.05, learning_rate_schedule=()):
        self.learning_rate = learning_rate
        self.learning_rate_schedule = [list(x) for x in learning_rate_schedule]

    @staticmethod
    def check_scenario(scenario) -> None:
        if scenario["task"]["name"] == "decision_boundary":
            raise ScenarioError(
                "run.method = 'error_backprop' needs a classification task (softmax over the classes); for the "
                "decision boundary use run.method = 'gradient_descent'"
            )

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> ErrorBackprop:
        return cls(**scenario["backprop"])

    def params(self) -> dict:
        return {"learning_rate": self.learning_rate, "learning_rate_schedule": self.learning_rate_schedule}

    def step_size(self, step: int) -> float:
        return scheduled(self.learning_rate, self.learning_rate_schedule, step)

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(trace=True, trial=Trial(output="error")),)

    def broadcast(self, evaluations, step: int) -> Correct:
        return Correct(evaluations[0].trace.trials.rewards)

    def coincidence_weights(self, broadcast: Correct) -> np.ndarray:
        return np.ones(broadcast.correct.size)

    def sample_broadcast(self, rng, n_examples: int = 8) -> Correct:
        return Correct((rng.random(n_examples) < 0.5).astype(np.float64))

    def _update(self, ctx: RuleContext) -> Change:
        return Change(dw=scalar(self.dtype, self.step_size(ctx.step)) * ctx.coincidence)

    update_local = _update
    update_batch = _update
