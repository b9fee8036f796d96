"""RMHL (reward-modulated Hebbian learning, node-perturbation form) on control tasks, as the NRL
authors ran it: one noisy network drives behaviour, each synapse sums post noise x pre activity
over the episode, and steps by eta * delta * that sum (../shared/specs/nrl-rmhl.md, section 2).

Fully local: each neuron knows its own noise, each synapse its pre activity; the only
broadcast is delta. Variance grows with episode length and depth, which is why NRL wins.
"""

from __future__ import annotations

from ..scenario import MAX_SCALE, Field, nonzero_step
from .base import Episode, Pass
from .episodic import EpisodicRule, baseline_fields
from .registry import register_rule

SECTIONS = {
    "rmhl": {
        "eta": Field("float", 0.05, "learning rate eta", low=0.0, check=nonzero_step("the RMHL learning rate", 0.05)),
        "sigma": Field("float", 0.1, "noise std sigma on every pre-activation", low=1e-12, high=MAX_SCALE),
        **baseline_fields(),
    }
}


@register_rule
class Rmhl(EpisodicRule):
    """Noisy neurons act; eligibility = sum_t xi_post(t) x_pre(t); dW = eta * delta * eligibility.

    Args:
        eta: learning rate eta.
        sigma: noise std sigma (on hidden and output pre-activations).
        baseline_rate: g of Rbar <- Rbar + g (R - Rbar).
        normalise: divide R - Rbar by |R|.
        rpe: "episode" (delta per episode) or "time_step" (delta_t = r_t - rbar_t, an immediate reward).
    """

    name = "rmhl"
    summary = "RMHL: noisy neurons act, eligibility = sum_t noise x pre, dW = eta delta eligibility"
    sections = SECTIONS
    coincidence_signal = "noise"

    def __init__(self, eta=0.05, sigma=0.1, baseline_rate=0.66, normalise=True, rpe="episode"):
        super().__init__(eta, baseline_rate, normalise, rpe)
        self.sigma = sigma

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> Rmhl:
        return cls(**scenario["rmhl"])

    def params(self) -> dict:
        return {**self.common_params(), "sigma": self.sigma}

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(trace=True, episode=Episode(noise_std=self.sigma, act_on="noisy")),)
