"""RMHL (reward-modulated Hebbian learning, node-perturbation form) on control tasks, as the NRL
authors ran it: one noisy network drives behaviour, each synapse sums post noise x pre activity
over the episode, and steps by eta * delta * that sum (../shared/specs/nrl-rmhl.md, section 2).

Fully local: each neuron knows its own noise, each synapse its pre activity; the only
broadcast is delta. Variance grows with episode length and depth, which is why NRL wins.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..scenario import MAX_SCALE, Field, step_field
from .base import Episode, Pass
from .episodic import EpisodeOutcome, EpisodicRule, baseline_fields
from .registry import register_rule

SECTIONS = {
    "rmhl": {
        "eta": step_field(0.05, "learning rate eta", "the RMHL learning rate"),
        "sigma": Field("float", 0.1, "noise std sigma on every pre-activation", low=1e-12, high=MAX_SCALE),
        "exploratory_hebbian": Field(
            "bool",
            False,
            "read each neuron's noise as its pre-activation minus a running mean of it (Legenstein et al. 2010)",
        ),
        "activity_rate": Field("float", 0.66, "rate of that running mean of activity", low=0.0, high=1.0),
        **baseline_fields(),
    }
}


@register_rule
class Rmhl(EpisodicRule):
    """Noisy neurons act; eligibility = sum_t xi_post(t) x_pre(t); dW = eta * delta * eligibility.

    Args:
        eta: learning rate eta.
        sigma: noise std sigma (on hidden and output pre-activations).
        exploratory_hebbian: read the noise as pre-activation minus its running mean abar
            (abar <- abar + g (a - abar), g = ``activity_rate``, updated before the noise is added):
            the spec's ``explicit_noise=False``, the exploratory-Hebbian rule.
        activity_rate: g of that running mean.
        baseline_rate: g of Rbar <- Rbar + g (R - Rbar).
        normalise: divide R - Rbar by |R|.
        rpe: "episode" (delta per episode) or "time_step" (delta_t = r_t - rbar_t, an immediate reward).
    """

    name = "rmhl"
    summary = "RMHL: noisy neurons act, eligibility = sum_t noise x pre, dW = eta delta eligibility"
    sections = SECTIONS
    coincidence_signal = "noise"

    def __init__(
        self,
        eta=0.05,
        sigma=0.1,
        exploratory_hebbian=False,
        activity_rate=0.66,
        baseline_rate=0.66,
        normalise=True,
        rpe="episode",
    ):
        super().__init__(eta, baseline_rate, normalise, rpe)
        self.sigma = sigma
        self.exploratory_hebbian = exploratory_hebbian
        self.activity_rate = activity_rate
        self.activity_mean = None

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> Rmhl:
        return cls(**scenario["rmhl"])

    def params(self) -> dict:
        return {
            **self.common_params(),
            "sigma": self.sigma,
            "exploratory_hebbian": self.exploratory_hebbian,
            "activity_rate": self.activity_rate,
        }

    def bind(self, topology, dtype) -> Rmhl:
        super().bind(topology, dtype)
        self.widths = list(topology.layer_sizes[1:])
        if self.activity_mean is None or self.activity_mean.size != sum(self.widths):
            self.activity_mean = np.zeros(sum(self.widths))
        return self

    def passes(self, step: int) -> tuple[Pass, ...]:
        means = None
        if self.exploratory_hebbian:
            means = tuple(np.split(self.activity_mean, np.cumsum(self.widths)[:-1]))
        episode = Episode(noise_std=self.sigma, act_on="noisy", activity_mean=means, activity_rate=self.activity_rate)
        return (Pass(trace=True, episode=episode),)

    def shared_state(self) -> dict[str, np.ndarray]:
        state = super().shared_state()
        return {**state, "activity_mean": self.activity_mean.copy()} if self.exploratory_hebbian else state

    def load_shared_state(self, state) -> None:
        super().load_shared_state(state)
        if "activity_mean" in state:
            self.activity_mean = np.array(state["activity_mean"], dtype=np.float64)

    def broadcast(self, evaluations, step: int) -> EpisodeOutcome:
        outcome = super().broadcast(evaluations, step)
        means = evaluations[0].trace.episode.activity_mean
        if means is None:
            return outcome
        return dataclasses.replace(outcome, state={"activity_mean": np.concatenate(means)})
