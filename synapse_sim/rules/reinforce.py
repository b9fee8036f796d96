"""REINFORCE by backprop with the return baseline: the control rules' gradient twin (not local).

Per time step the clean policy samples the action, and every neuron's d log pi(a_t) / d a is
sent back through the forward weights (the output's onehot(a_t) - pi_t); a synapse's
eligibility is the episode's sum of pre activity x that signal, i.e. d/dw sum_t log pi(a_t|s_t),
and it steps by eta * delta * eligibility: one SGD step on -sum_t log pi(a_t|s_t) * delta
(../shared/specs/nrl-rmhl.md, "BP baseline"), once per episode.
"""

from __future__ import annotations

from ..scenario import step_field
from .base import Episode, Pass
from .episodic import EpisodicRule, baseline_fields
from .registry import register_rule

SECTIONS = {
    "reinforce": {
        "eta": step_field(0.01, "learning rate eta", "the REINFORCE learning rate"),
        **baseline_fields(),
    }
}


@register_rule
class Reinforce(EpisodicRule):
    """REINFORCE with backprop, the same return baseline as NRL and RMHL.

    Args:
        eta: learning rate eta (dW = eta * delta * sum_t d log pi(a_t) / dW).
        baseline_rate: g of Rbar <- Rbar + g (R - Rbar).
        normalise: divide R - Rbar by |R|.
        rpe: "episode" (delta per episode) or "time_step" (delta_t = r_t - rbar_t, an immediate reward).
    """

    name = "reinforce"
    summary = "REINFORCE by backprop: an episode per step, delta = (R - Rbar) / |R|, dW = eta delta grad log pi"
    sections = SECTIONS
    coincidence_signal = "feedback"

    def __init__(self, eta=0.01, baseline_rate=0.66, normalise=True, rpe="episode"):
        super().__init__(eta, baseline_rate, normalise, rpe)

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> Reinforce:
        return cls(**scenario["reinforce"])

    def params(self) -> dict:
        return self.common_params()

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(trace=True, episode=Episode(gradient=True)),)
