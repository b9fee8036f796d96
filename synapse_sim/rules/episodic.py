"""What the control rules share (NRL, RMHL, REINFORCE): an episode per step, a return baseline, delta.

The reward-prediction error of an episode is delta = (R - Rbar) / |R|, R its undiscounted
return and Rbar an exponential moving average of past returns (rate g = 0.66, starting at
the first return, so the first delta is 0; ../shared/specs/nrl-rmhl.md, section 0). With
``rpe = "time_step"`` (an immediate reward, the reaching task) each time step has its own
delta_t = r_t - rbar, rbar the same average over the episode's rewards so far (restarting each
episode): the code steps every time step; here the per-step products are summed and applied at
the episode's end. Rbar is
the rules' shared state: updated after the synapses have learned, and checkpointed. Each
synapse keeps its eligibility (the episode's sum of its rule's per-step products) and steps by
eta * c * delta * eligibility.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import Field, ScenarioError
from .base import Change, MemoryField, Rule, RuleContext, scalar

RPE_TIMING = ("episode", "time_step")


def baseline_fields() -> dict[str, Field]:
    """The scenario keys every return-baseline rule owns in its section (NRL, RMHL, REINFORCE)."""
    return {
        "baseline_rate": Field("float", 0.66, "rate g of the return baseline Rbar (an exponential average)", low=0.0),
        "normalise": Field("bool", True, "delta = (R - Rbar) / |R| (false: R - Rbar)"),
        "rpe": Field(
            "str",
            "episode",
            "'episode': one delta per episode (delayed reward); 'time_step': delta_t = r_t - rbar_t per step, rbar "
            "restarting each episode (immediate reward: the reaching task)",
            choices=RPE_TIMING,
        ),
    }


@dataclass(frozen=True)
class EpisodeOutcome:
    """A control rule's broadcast: the episode's delta and return, and per time step the eligibility weights."""

    delta: float
    episode_return: float
    step_weights: np.ndarray  # per time step: the factor of its pre x post product in the eligibility
    # shared state the episode itself evolved (a critic's values, running means): learn() commits it
    state: dict | None = None

    def __float__(self) -> float:
        return self.episode_return


class EpisodicRule(Rule):
    """Base of the control rules: one episode pass per step, the RPE broadcast, the eligibility update.

    Subclasses set ``passes`` and :meth:`step_weights` (and ``coincidence_signal``)."""

    needs = frozenset({"coincidence"})
    needs_episodes = True
    broadcast_label = "episode return"
    population_outputs = False  # True: K output neurons per action vote (control.actors)

    def __init__(self, eta, baseline_rate=0.66, normalise=True, rpe="episode"):
        self.eta = eta
        self.baseline_rate = baseline_rate
        self.normalise = normalise
        self.rpe = rpe
        self.baseline = np.nan  # Rbar: no episode seen yet

    @classmethod
    def check_scenario(cls, scenario) -> None:
        if scenario["task"]["name"] != "control":
            raise ScenarioError(
                f"run.method = {cls.name!r} learns from the episodes of an environment: set task.name = 'control' "
                "(and control.env, e.g. 'CartPole-v1')"
            )
        actors = scenario["control"]["actors"]
        if actors != 1 and not cls.population_outputs:
            raise ScenarioError(
                f"control.actors = {actors}: run.method = {cls.name!r} reads the outputs as one softmax over the "
                "actions; a population of K outputs per action is the spiking rule's (run.method = 'spiking')"
            )

    def common_params(self) -> dict:
        return {"eta": self.eta, "baseline_rate": self.baseline_rate, "normalise": self.normalise, "rpe": self.rpe}

    def step_size(self, step: int) -> float:
        return float(self.eta)

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return (MemoryField("eligibility", "float64", scale=0.01),)

    def shared_state(self) -> dict[str, np.ndarray]:
        return {"return_baseline": np.array(self.baseline)}

    def load_shared_state(self, state) -> None:
        if "return_baseline" in state:
            self.baseline = float(state["return_baseline"])

    def step_weights(self, episode) -> np.ndarray:
        """Per time step, the factor of its pre x post product in the eligibility."""
        return np.ones(episode.length)

    def delta(self, episode_return: float) -> float:
        """(R - Rbar) / |R| (or R - Rbar without ``normalise``); 0 for the first episode."""
        if np.isnan(self.baseline):
            return 0.0
        error = episode_return - self.baseline
        return error / abs(episode_return) if self.normalise and episode_return != 0 else error

    def broadcast(self, evaluations, step: int) -> EpisodeOutcome:
        episode = evaluations[0].trace.episode
        total = episode.episode_return
        if self.rpe == "time_step":
            return EpisodeOutcome(
                1.0, total, step_errors(episode.rewards, self.baseline_rate) * self.step_weights(episode)
            )
        return EpisodeOutcome(self.delta(total), total, self.step_weights(episode))

    def coincidence_weights(self, broadcast: EpisodeOutcome) -> np.ndarray:
        # correlate() averages over the time steps; the eligibility is their sum
        return broadcast.step_weights * broadcast.step_weights.size

    def learn(self, reports, broadcast: EpisodeOutcome, step: int) -> None:
        total = broadcast.episode_return
        if np.isnan(self.baseline):
            self.baseline = total
        else:
            self.baseline += self.baseline_rate * (total - self.baseline)
        if broadcast.state:
            self.load_shared_state(broadcast.state)

    def sample_broadcast(self, rng, n_examples: int = 8) -> EpisodeOutcome:
        return EpisodeOutcome(
            float(rng.standard_normal()), float(rng.integers(1, 500)), rng.standard_normal(n_examples)
        )

    def layer_factor(self, ctx: RuleContext):
        """c_l: 1 (subclasses may scale by the layer's width)."""
        return 1

    def _update(self, ctx: RuleContext) -> Change:
        eligibility = ctx.coincidence
        step = scalar(self.dtype, self.eta * ctx.broadcast.delta) * self.layer_factor(ctx)
        return Change(dw=step * eligibility, memory={"eligibility": eligibility})

    update_local = _update
    update_batch = _update


def step_errors(rewards: np.ndarray, rate: float) -> np.ndarray:
    """delta_t = r_t - rbar_{t-1}, rbar <- rbar + rate (r_t - rbar), rbar starting at r_0 (so delta_0 = 0)."""
    errors = np.zeros(len(rewards))
    average = None
    for t, reward in enumerate(rewards):
        if average is not None:
            errors[t] = reward - average
            average += rate * (reward - average)
        else:
            average = float(reward)
    return errors
