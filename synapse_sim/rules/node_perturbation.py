"""Node perturbation (Williams 1992; Fiete & Seung 2006) as a synapse-local rule.

Every neuron's pre-activation receives Gaussian noise xi (std sigma, keyed by seed,
step, neuron and example); the network is evaluated clean and noisy on the same
minibatch, and the loss change is broadcast, delta_n = -(L_noisy,n - L_clean,n) / sigma^2,
one number per example (or one per minibatch). A synapse's eligibility is its post
neuron's noise times its pre neuron's activity; weighted by the broadcast and
averaged over the minibatch it is an unbiased estimate of -dL/dw, and the synapse
steps by eta times it. This is the RMHL of ../shared/specs/nrl-rmhl.md applied to a
supervised loss: two loss evaluations per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import MAX_SCALE, Field, step_field
from .base import Change, MemoryField, Pass, Rule, RuleContext, scalar, scheduled
from .registry import register_rule

SECTIONS = {
    "node_perturbation": {
        "sigma": Field("float", 0.01, "noise std sigma on every neuron's pre-activation", low=1e-12, high=MAX_SCALE),
        "eta": step_field(0.1, "learning rate eta", "the learning rate eta"),
        "eta_schedule": Field("schedule", [], "[[iteration, eta], ...]: eta from that iteration on (a step cut)"),
        "per_example": Field("bool", True, "broadcast one loss change per example (true) or one per minibatch (false)"),
    }
}


@dataclass(frozen=True)
class LossChange:
    """Node perturbation's broadcast: -(L_noisy - L_clean) / sigma^2 per example (or the same for all)."""

    delta: np.ndarray

    def __float__(self) -> float:
        return float(np.mean(self.delta))


@register_rule
class NodePerturbation(Rule):
    """Noise on neurons, the loss change broadcast, eligibility = post noise x pre activity.

    Args:
        sigma: noise standard deviation sigma.
        eta: learning rate eta (weight change eta * mean_n delta_n * xi_post(n) * x_pre(n)).
        eta_schedule: ``[[iteration, eta], ...]``: eta replaced from that iteration on.
        per_example: broadcast each example's loss change (else the minibatch's).
    """

    name = "node_perturbation"
    summary = "node perturbation: noise on neurons, two passes, broadcast -(L_noisy - L_clean) / sigma^2"
    sections = SECTIONS
    needs = frozenset({"coincidence"})
    broadcast_label = "mean -(L_noisy - L_clean) / sigma^2"

    def __init__(self, sigma=0.01, eta=0.1, per_example=True, eta_schedule=()):
        self.sigma = sigma
        self.eta = eta
        self.eta_schedule = [list(x) for x in eta_schedule]
        self.per_example = per_example

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> NodePerturbation:
        return cls(**scenario["node_perturbation"])

    def params(self) -> dict:
        return {
            "sigma": self.sigma,
            "eta": self.eta,
            "eta_schedule": self.eta_schedule,
            "per_example": self.per_example,
        }

    def step_size(self, step: int) -> float:
        return scheduled(self.eta, self.eta_schedule, step)

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return (MemoryField("eligibility", "float64", scale=0.01),)

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(trace=True), Pass(noise_std=self.sigma, trace=True, record=False))

    def broadcast(self, evaluations, step: int) -> LossChange:
        clean, noisy = evaluations
        scale = -1.0 / self.sigma**2
        if self.per_example:
            change = noisy.trace.example_losses.astype(np.float64) - clean.trace.example_losses
            return LossChange(change * scale)
        n = clean.trace.example_losses.size
        return LossChange(np.full(n, (noisy.loss - clean.loss) * scale))

    def coincidence_weights(self, broadcast: LossChange) -> np.ndarray:
        return broadcast.delta

    def sample_broadcast(self, rng, n_examples: int = 8) -> LossChange:
        return LossChange(rng.standard_normal(n_examples))

    def _update(self, ctx: RuleContext) -> Change:
        eligibility = ctx.coincidence
        return Change(
            dw=scalar(self.dtype, self.step_size(ctx.step)) * eligibility, memory={"eligibility": eligibility}
        )

    update_local = _update
    update_batch = _update
