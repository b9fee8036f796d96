"""NRL, noise-based reward-modulated learning (../shared/specs/nrl-rmhl.md, section 1).

Per time step the clean network samples the action and a noisy twin (the same weights, noise
xi on every pre-activation) is evaluated beside it; two scalars are broadcast, the change of
the action's log-probability dp_t = log pi~(a_t) - log pi(a_t) and the noise power
Z_t = ||xi_t||^2, and each synapse adds dp_t / Z_t x its post neuron's noise x its pre
activity (the noisy pass's) to its eligibility: a directional-derivative estimate of
d log pi(a_t) / dw. At the episode's end delta is broadcast and the synapse steps by
eta * c_l * delta * eligibility, c_l = 1 or, with ``scale_by_width``, the number of post
neurons of its layer (the two code snapshots differ; N6 of the spec).
"""

from __future__ import annotations

import numpy as np

from ..scenario import MAX_SCALE, Field, ScenarioError, step_field
from .base import Episode, Pass, RuleContext
from .episodic import EpisodicRule, baseline_fields
from .registry import register_rule

SECTIONS = {
    "nrl": {
        "eta": step_field(0.05, "learning rate eta", "the NRL learning rate"),
        "sigma": Field(
            "float",
            1e-3,
            "noise std sigma of the noisy pass (a small finite-difference probe)",
            low=1e-12,
            high=MAX_SCALE,
        ),
        "scale_by_width": Field(
            "bool", False, "multiply a layer's step by its number of post neurons (snapshot 659f25a)"
        ),
        "noisy_passes": Field(
            "int", 0, "K > 0: no clean pass; dp_t compares with the mean policy of K more noisy passes", low=0, high=100
        ),
        "implicit_noise": Field(
            "bool", False, "read the noise as noisy minus clean pre-activation (hardware whose noise is not readable)"
        ),
        **baseline_fields(),
    }
}


@register_rule
class Nrl(EpisodicRule):
    """Clean and noisy pass per time step; eligibility = sum_t (dp_t / Z_t) xi_post(t) x~_pre(t).

    Args:
        eta: learning rate eta.
        sigma: noise std sigma of the noisy pass.
        scale_by_width: c_l = the layer's number of post neurons (else 1).
        noisy_passes: K > 0: no clean pass; the reference of dp_t (and the policy that acts) is the
            mean policy of K more noisy passes (the spec's intended "noisy-only" variant).
        implicit_noise: each neuron's noise read as its noisy minus clean pre-activation (the noise
            power Z_t too): the spec's hardware variant, ``explicit_noise=False``.
        baseline_rate: g of Rbar <- Rbar + g (R - Rbar).
        normalise: divide R - Rbar by |R|.
        rpe: "episode" (delta per episode) or "time_step" (delta_t = r_t - rbar_t, an immediate reward).
    """

    name = "nrl"
    summary = "NRL: clean + noisy pass, broadcast dp_t / ||xi_t||^2 per step and delta per episode"
    sections = SECTIONS
    coincidence_signal = "noise"

    def __init__(
        self,
        eta=0.05,
        sigma=1e-3,
        scale_by_width=False,
        noisy_passes=0,
        implicit_noise=False,
        baseline_rate=0.66,
        normalise=True,
        rpe="episode",
    ):
        super().__init__(eta, baseline_rate, normalise, rpe)
        self.sigma = sigma
        self.scale_by_width = scale_by_width
        self.implicit_noise = implicit_noise
        self.noisy_passes = noisy_passes

    @classmethod
    def check_scenario(cls, scenario) -> None:
        super().check_scenario(scenario)
        if scenario["nrl"]["implicit_noise"] and scenario["nrl"]["noisy_passes"]:
            raise ScenarioError(
                "nrl.implicit_noise reads the noise as noisy minus clean pre-activation, and nrl.noisy_passes > 0 "
                "runs no clean pass: choose one of them"
            )

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> Nrl:
        return cls(**scenario["nrl"])

    def params(self) -> dict:
        return {
            **self.common_params(),
            "sigma": self.sigma,
            "scale_by_width": self.scale_by_width,
            "noisy_passes": self.noisy_passes,
            "implicit_noise": self.implicit_noise,
        }

    def bind(self, topology, dtype) -> Nrl:
        super().bind(topology, dtype)
        widths = np.array(topology.layer_sizes[1:])[topology.layer]
        self.widths = widths.astype(self.dtype) if self.scale_by_width else None
        return self

    def passes(self, step: int) -> tuple[Pass, ...]:
        episode = Episode(
            noise_std=self.sigma,
            act_on="clean",
            probe=True,
            implicit_noise=self.implicit_noise,
            reference_passes=self.noisy_passes,
        )
        return (Pass(trace=True, episode=episode),)

    def step_weights(self, episode) -> np.ndarray:
        return episode.log_prob_change / episode.noise_power

    def layer_factor(self, ctx: RuleContext):
        return 1 if self.widths is None else self.widths[ctx.sid]
