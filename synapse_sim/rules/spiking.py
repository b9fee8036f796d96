"""Spiking GLM neurons as reinforcement-learning agents (../shared/specs/qagrel-spiking.md, section 2).

Every neuron is an agent whose action is its spike (:mod:`synapse_sim.tasks.spiking`); the only
broadcast is the TD error delta_t of a linear TD(lambda) critic (:mod:`.critic`), and each
synapse's update is the coagent policy gradient dw_i = alpha c delta_t x_i (s - tanh z): pre
spike x post eligibility x the module credit c x the broadcast. Summed over the episode and
applied at its end (the official code steps online, every time step; here the weights stay fixed
within an episode, so that both views and a resumed run replay it from the checkpoint alone).
"""

from __future__ import annotations

import numpy as np

from ..scenario import Field, ScenarioError, step_field
from ..tasks.base import NonFiniteLossError
from ..tasks.spiking import CREDITS
from .base import Change, Episode, Pass, RuleContext, scalar
from .critic import FEATURES, n_features, td_lambda
from .critic import features as critic_features_of
from .episodic import EpisodeOutcome, EpisodicRule
from .registry import register_rule

SECTIONS = {
    "spiking": {
        "alpha": step_field(1e-3, "actor learning rate alpha", "the spiking actor rate"),
        "vote_epsilon": Field(
            "float", 0.1, "epsilon of the epsilon-greedy action after the population vote", low=0.0, high=1.0
        ),
        "credit": Field(
            "str", "chosen", "output credit c: 'chosen' (CartPole code) or 'target' (gridworld code)", choices=CREDITS
        ),
        "discount": Field("float", 1.0, "discount gamma of the critic's TD error", low=0.0, high=1.0),
        "trace_decay": Field("float", 0.5, "lambda of the critic's TD(lambda) traces", low=0.0, high=1.0),
        "critic_rate": Field("float", 0.1, "critic learning rate alpha_v (per |phi|^2: normalised)", low=0.0),
        "critic_features": Field(
            "str", "fourier", "critic features: 'fourier' basis or the 'observation' itself", choices=FEATURES
        ),
        "fourier_order": Field("int", 5, "order n of the Fourier basis ((n + 1)^d features)", low=0, high=20),
    }
}


@register_rule
class SpikingAgents(EpisodicRule):
    """GLM spiking neurons, a population vote, the TD error of a linear critic broadcast.

    Args:
        alpha: actor rate alpha (dw = alpha c delta_t x (s - tanh z), summed over the episode).
        vote_epsilon: epsilon of the epsilon-greedy step after the vote.
        credit: the output neurons' module credit c ("chosen" or "target").
        discount: the critic's discount gamma.
        trace_decay: TD(lambda)'s lambda.
        critic_rate: alpha_v.
        critic_features: "fourier" or "observation".
        fourier_order: the Fourier basis' order.
    """

    name = "spiking"
    summary = "spiking GLM neurons as agents: population vote, TD error of a linear critic broadcast, coagent update"
    sections = SECTIONS
    coincidence_signal = "feedback"
    population_outputs = True

    def __init__(
        self,
        alpha=1e-3,
        vote_epsilon=0.1,
        credit="chosen",
        discount=1.0,
        trace_decay=0.5,
        critic_rate=0.1,
        critic_features="fourier",
        fourier_order=5,
    ):
        super().__init__(alpha)
        self.alpha = alpha
        self.vote_epsilon = vote_epsilon
        self.credit = credit
        self.discount = discount
        self.trace_decay = trace_decay
        self.critic_rate = critic_rate
        self.critic_features = critic_features
        self.fourier_order = fourier_order
        self.values = None

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> SpikingAgents:
        rule = cls(**scenario["spiking"])
        rule.critic_inputs = critic_inputs(scenario)
        try:
            n_features(rule.critic_features, rule.critic_inputs, rule.fourier_order)
        except ValueError as exc:
            raise ScenarioError(str(exc)) from None
        return rule

    def params(self) -> dict:
        return {
            "alpha": self.alpha,
            "vote_epsilon": self.vote_epsilon,
            "credit": self.credit,
            "discount": self.discount,
            "trace_decay": self.trace_decay,
            "critic_rate": self.critic_rate,
            "critic_features": self.critic_features,
            "fourier_order": self.fourier_order,
        }

    def bind(self, topology, dtype) -> SpikingAgents:
        super().bind(topology, dtype)
        inputs = getattr(self, "critic_inputs", None) or topology.layer_sizes[0]
        if self.critic_features == "observation":
            inputs = topology.layer_sizes[0]
        count = n_features(self.critic_features, inputs, self.fourier_order)
        if self.values is None or self.values.size != count:
            self.values = np.zeros(count)
        return self

    def step_size(self, step: int) -> float:
        return float(self.alpha)

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(trace=True, episode=self.episode()),)

    def start_pass(self) -> Pass:
        return Pass(episode=self.episode())

    def episode(self) -> Episode:
        return Episode(policy="spiking", epsilon=self.vote_epsilon, credit=self.credit)

    def shared_state(self) -> dict[str, np.ndarray]:
        return {**super().shared_state(), "critic_values": self.values.copy()}

    def load_shared_state(self, state) -> None:
        super().load_shared_state(state)
        if "critic_values" in state:
            self.values = np.array(state["critic_values"], dtype=np.float64)

    def _features(self, episode) -> np.ndarray:
        return critic_features_of(
            self.critic_features, episode.observations, episode.unit_observations, self.fourier_order
        )

    def broadcast(self, evaluations, step: int) -> EpisodeOutcome:
        episode = evaluations[0].trace.episode
        with np.errstate(all="ignore"):  # a diverging critic is reported below
            deltas, values = td_lambda(
                self.values,
                self._features(episode),
                episode.rewards,
                episode.terminated,
                self.discount,
                self.trace_decay,
                self.critic_rate,
            )
        if not (np.all(np.isfinite(deltas)) and np.all(np.isfinite(values))):
            raise NonFiniteLossError(
                f"the critic's TD error is not finite at step {step} (its values diverged): lower spiking.critic_rate "
                f"(now {self.critic_rate:g}) or spiking.trace_decay"
            )
        # the mean TD error stands for the episode in the records; the critic's new values are committed by learn()
        return EpisodeOutcome(float(np.mean(deltas)), episode.episode_return, deltas, {"critic_values": values})

    def _update(self, ctx: RuleContext) -> Change:
        eligibility = ctx.coincidence
        return Change(dw=scalar(self.dtype, self.alpha) * eligibility, memory={"eligibility": eligibility})

    update_local = _update
    update_batch = _update


def critic_inputs(scenario) -> int:
    """The critic's input dimensions: the network's inputs (``"observation"`` features) or the
    environment's observation dimensions (the Fourier basis reads the raw observation in [0, 1])."""
    if scenario["spiking"]["critic_features"] == "observation":
        return int(scenario["network"]["layers"][0])
    from ..tasks.control import make_env
    from ..tasks.observations import ObservationCode

    try:
        return ObservationCode(make_env(scenario["control"]["env"]).observation_space).dimensions
    except ScenarioError:  # an unknown environment is reported by the task, with its own advice
        return int(scenario["network"]["layers"][0])
