"""Control tasks: a Gymnasium environment, one episode per step (``task.name = "control"``).

The network is the policy: its outputs are the logits of a softmax over the environment's
discrete actions; a rule asks for episodes (:class:`synapse_sim.rules.Episode`) and learns
from their traces and returns. Classic-control environments (CartPole-v1, Acrobot-v1,
MountainCar-v0) ship inside ``gymnasium`` and ours (``synapse_sim/Gridworld-v0``) inside this
package (:mod:`.envs`): nothing is downloaded. The episode of step t is
seeded by (run.seed, t), so a resumed run replays it exactly without saving the
environment's state. A step's loss is minus the episode's return; its accuracy is 1 when
the return reached the environment's reward threshold (CartPole-v1: 475), else 0.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools

import numpy as np

from ..lockstep import gather
from ..scenario import Field, Scenario, ScenarioError
from .base import Evaluation, Task, check_finite
from .episodes import EpisodeRequest, EpisodeSpec, run_episodes
from .observations import ENCODINGS, ObservationCode

SOLVED_WINDOW = 100  # consecutive episodes whose mean return decides "solved" (Gymnasium's definition)
SECTIONS = {
    "control": {
        "env": Field(
            "str", "CartPole-v1", "Gymnasium environment id with discrete actions (CartPole-v1, Acrobot-v1, ...)"
        ),
        "max_steps": Field(
            "int", 0, "time steps per episode at most, replacing the environment's own limit (0: keep it)", low=0
        ),
        "encoding": Field(
            "str",
            "raw",
            "observation -> network input: 'raw', 'unit' ([-1, 1] by the bounds) or 'bins'",
            choices=ENCODINGS,
        ),
        "bins": Field("int", 10, "inputs per observation dimension with encoding = 'bins'", low=2, high=1000),
        "actors": Field(
            "int",
            1,
            "K: output neurons per action (K > 1: K populations vote; spiking rule); network.layers[-1] = K x actions",
            low=1,
        ),
        "stop_when_solved": Field(
            "bool", False, "end the run once the mean return of 100 consecutive episodes reaches the reward threshold"
        ),
    }
}


def make_env(env_id: str, max_steps: int = 0):
    """``gymnasium.make(env_id)`` (with ``max_steps``: that time limit instead of its own), or a clear
    error naming the ids that are registered."""
    try:
        import gymnasium

        from .envs import register_all
    except ImportError:  # a dependency of synapse_sim; missing only in a broken environment
        raise ScenarioError("task.name = 'control' needs gymnasium: pip install gymnasium") from None
    register_all()  # ours: synapse_sim/Gridworld-v0, synapse_sim/Reaching1D-v0
    registered = list(gymnasium.envs.registry)
    if env_id not in gymnasium.envs.registry:
        near = difflib.get_close_matches(env_id, registered, n=3)
        hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
        raise ScenarioError(
            f"control.env = {env_id!r} is not a registered Gymnasium environment{hint} (for example "
            "'CartPole-v1', 'Acrobot-v1', 'MountainCar-v0', 'synapse_sim/Gridworld-v0'; a plug-in may register its "
            "own with gymnasium.register)"
        )
    return gymnasium.make(env_id, max_episode_steps=max_steps) if max_steps else gymnasium.make(env_id)


def check_spaces(env, env_id: str, layers, actors: int = 1, code: ObservationCode | None = None) -> None:
    from gymnasium import spaces

    if not isinstance(env.action_space, spaces.Discrete):
        raise ScenarioError(
            f"{env_id} has a {type(env.action_space).__name__} action space ({env.action_space}); the control rules "
            "sample one of a few discrete actions from a softmax: choose an environment with discrete actions "
            "(CartPole-v1, Acrobot-v1, MountainCar-v0)"
        )
    n_obs = (code or ObservationCode(env.observation_space)).size
    n_actions = int(env.action_space.n)
    if layers[0] != n_obs or layers[-1] != actors * n_actions:
        why = "" if actors == 1 else f" (control.actors = {actors} x {n_actions} actions)"
        raise ScenarioError(
            f"network.layers = {list(layers)} does not fit {env_id}: its observations hold {n_obs} numbers and it "
            f"has {n_actions} actions, so network.layers must be [{n_obs}, ..., {actors * n_actions}]{why}"
        )


class ControlTask(Task):
    """One episode of ``env`` per step, the network as a softmax policy."""

    name = "control"

    def __init__(
        self,
        env,
        env_id: str,
        episode_rng,
        hidden_activation="leaky_relu",
        max_steps: int = 0,
        stop_when_solved=False,
        code: ObservationCode | None = None,
    ):
        self.env = env
        self.code = code or ObservationCode(env.observation_space)
        self.env_id = env_id
        self.episode_rng = episode_rng
        self.hidden_activation = hidden_activation
        self.max_steps = int(max_steps)
        self.reward_threshold = getattr(env.spec, "reward_threshold", None)
        self.stop_when_solved = bool(stop_when_solved)

    def batch_id(self, step: int) -> int:
        return step

    def evaluate(self, weights, step: int, need_activity=False, noise=None, trace=False, trial=None, episode=None):
        """Run episode ``step``: sampled from the clean policy unless the pass's ``episode`` says otherwise."""
        if trial is not None or noise is not None or need_activity:
            raise ScenarioError(
                "a control task runs episodes, not trials, noisy minibatches or activity features: use a control "
                "rule (run.method = 'reinforce', 'nrl' or 'rmhl')"
            )
        spec = episode or EpisodeSpec(0.0, "clean", False, False, None)
        spec = dataclasses.replace(spec, rng=self.episode_rng(step))
        request = EpisodeRequest(
            self.env, weights, spec, self.hidden_activation, self.env_id, self.max_steps, self.code
        )
        record, episode_trace = gather(run_episodes, request.batch_key(), request)  # with runs in lockstep: together
        total = record.episode_return
        solved = self.reward_threshold is not None and total >= self.reward_threshold
        return Evaluation(
            check_finite(-total, step),
            float(solved),
            None,
            episode_trace if (trace or episode is not None) else None,
            {"return": total, "episode_length": float(record.length)},
        )

    def stop_reason(self, history) -> str | None:
        """With ``control.stop_when_solved``: solved when the last 100 episodes' mean return reaches the threshold."""
        if not self.stop_when_solved or self.reward_threshold is None or history.length < SOLVED_WINDOW:
            return None
        mean = float(np.mean(history.arrays["return"][history.length - SOLVED_WINDOW : history.length]))
        if mean < self.reward_threshold:
            return None
        first, last = history.length - SOLVED_WINDOW + 1, history.length
        return f"solved: mean return {mean:.1f} >= {self.reward_threshold:g} over episodes {first}-{last}"


def build(scenario: Scenario, dtype) -> ControlTask:
    from ..randomness import STREAM_EPISODE, generator

    control, network = scenario["control"], scenario["network"]
    env = make_env(control["env"], control["max_steps"])
    code = ObservationCode(env.observation_space, control["encoding"], control["bins"])
    check_spaces(env, control["env"], network["layers"], control["actors"], code)
    rng = functools.partial(generator, scenario["run"]["seed"], STREAM_EPISODE)
    return ControlTask(
        env,
        control["env"],
        rng,
        network["hidden_activation"],
        control["max_steps"],
        control["stop_when_solved"],
        code,
    )


build.sections = SECTIONS
