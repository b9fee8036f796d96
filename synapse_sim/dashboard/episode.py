"""A control task's last episode as the dashboard shows it: kept after each step, replayed for its frames.

One step of a control task is one whole episode (:mod:`synapse_sim.tasks.control`). The rule's
recorded pass keeps the episode's trace (its record, each layer's input per time step); a rule
whose pass keeps none (synaptic RL) gets the same episode run once more with a trace: the
episode of step t depends only on (run.seed, t) and the weights it ran with, which that rule does
not change after its pass. The environment's frames are not kept: :class:`EpisodeReplay` replays
the recorded actions in a rendering copy of the environment, reset with the seed the episode was
reset with, so frame t is the state after t actions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from ..tasks.base import Trace
from ..tasks.episodes import EpisodeRecord


class FramesUnavailable(Exception):
    """The environment cannot draw frames (no ``rgb_array`` render mode, no pygame); the message says why."""


def render_modes(env_id: str) -> list[str] | None:
    """The render modes an environment's class declares (``metadata``), or None when it cannot be told."""
    import gymnasium
    from gymnasium.envs.registration import load_env_creator

    try:
        entry = gymnasium.spec(env_id).entry_point
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
    except Exception:  # an unusual registration: gymnasium.make below decides
        return None
    modes = getattr(creator, "metadata", {}).get("render_modes")
    return list(modes) if modes is not None else None


def renderable_env(env_id: str, max_steps: int = 0):
    """``gymnasium.make(env_id, render_mode="rgb_array")`` with the run's time limit, or :class:`FramesUnavailable`."""
    import gymnasium

    from ..tasks import envs  # noqa: F401  (registers synapse_sim/Gridworld-v0 and friends)

    modes = render_modes(env_id)
    if modes is not None and "rgb_array" not in modes:
        shown = ", ".join(modes) or "none"
        raise FramesUnavailable(f"{env_id} cannot draw frames: it has no 'rgb_array' render mode (its modes: {shown})")
    limit = {"max_episode_steps": int(max_steps)} if max_steps and max_steps > 0 else {}
    try:
        return gymnasium.make(env_id, render_mode="rgb_array", **limit)
    except Exception as exc:  # any failure to build a drawing copy: the panel says why, the run goes on
        raise FramesUnavailable(f"{env_id} cannot draw frames ({type(exc).__name__}: {exc})") from exc


class EpisodeReplay:
    """Replays recorded ``actions`` from ``env.reset(seed=seed)`` in a rendering copy of ``env_id``.

    :meth:`frame` renders one state only (stepping on from the last one asked for when it lies ahead,
    as a player does), :meth:`frames` every state, :meth:`observations` every observation. The copy is
    built on first use; a lock serialises the views that ask from different threads.
    """

    def __init__(self, env_id: str, max_steps: int, seed: int, actions: np.ndarray):
        self.env_id, self.max_steps, self.seed = env_id, int(max_steps), int(seed)
        self.actions = np.asarray(actions, dtype=np.int64)
        self._env = None
        self._position = -1  # actions applied since the last reset (-1: not reset)
        self._lock = threading.Lock()

    @property
    def length(self) -> int:
        return int(self.actions.size)

    def _move_to(self, t: int):
        """Reset (if ``t`` lies behind) and step to the state after ``t`` actions; returns its observation."""
        if self._env is None:
            self._env = renderable_env(self.env_id, self.max_steps)
        observation = None
        if self._position < 0 or t < self._position:
            observation, _ = self._env.reset(seed=self.seed)
            self._position = 0
        while self._position < t:
            observation, *_ = self._env.step(int(self.actions[self._position]))
            self._position += 1
        return observation

    def _render(self) -> np.ndarray:
        try:
            frame = self._env.render()
        except Exception as exc:  # e.g. pygame missing: said in the panel
            raise FramesUnavailable(f"{self.env_id} cannot draw frames ({type(exc).__name__}: {exc})") from exc
        frame = np.asarray(frame) if frame is not None else None
        if frame is None or frame.ndim != 3 or frame.shape[2] not in (3, 4):
            raise FramesUnavailable(f"{self.env_id} returned no RGB frame from render() in rgb_array mode")
        return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)

    def frame(self, t: int) -> np.ndarray:
        """The (h, w, 3) picture after ``t`` actions (0: after the reset), ``t`` clipped to the episode."""
        t = int(np.clip(t, 0, self.length))
        with self._lock:
            self._move_to(t)
            return self._render()

    def frames(self) -> list[np.ndarray]:
        """Every picture of the episode: after the reset and after each action (length + 1)."""
        with self._lock:
            self._position = -1
            out = []
            for t in range(self.length + 1):
                self._move_to(t)
                out.append(self._render())
            return out

    def observations(self) -> list:
        """Every observation of the replay, raw (length + 1): the recorded episode's, if the replay is faithful."""
        with self._lock:
            self._position = -1
            return [self._move_to(t) for t in range(self.length + 1)]


@dataclass
class LastEpisode:
    """The episode of ``step``: its record, its trace (time steps in columns) and the rule's broadcast
    of that step (the per-time-step weights of the eligibility; None after a fast-forward)."""

    step: int
    record: EpisodeRecord
    trace: Trace
    broadcast: object | None
    replay: EpisodeReplay = field(repr=False, default=None)


def runs_episodes(model) -> bool:
    """Whether the model's task runs an episode per step (``task.name = "control"``)."""
    return model.config["task"]["name"] == "control"


def capture_episode(simulation, weights: np.ndarray, broadcast=None) -> LastEpisode | None:
    """The episode ``simulation``'s last step ran (None before a step or on another task).

    ``weights`` (sid order) are those the episode ran with: a rule whose pass keeps no trace has its
    episode run again with them (the task's own code; not counted as a loss evaluation)."""
    step = simulation.step_count
    if step < 1 or simulation.scenario["task"]["name"] != "control":
        return None
    trace = simulation.last.trace if simulation.last is not None else None
    if trace is None or trace.episode is None:
        trace = simulation.task.evaluate(simulation.topology.matrices(weights), step, trace=True).trace
    control = simulation.scenario["control"]
    seed = trace.episode.reset_seed
    replay = EpisodeReplay(control["env"], control["max_steps"], seed, trace.episode.actions)
    return LastEpisode(step, trace.episode, trace, broadcast, replay)


def synapse_contributions(model, sid: int) -> np.ndarray | None:
    """Synapse ``sid``'s term per time step of the last episode: pre activity x post signal x the step's
    weight from the broadcast. Their sum is the eligibility it kept (what ``correlate`` sums, per step).
    None without an episode, a broadcast or a per-neuron signal in the trace."""
    episode = getattr(model, "episode", None)
    if episode is None or episode.broadcast is None or not hasattr(model.rule, "coincidence_weights"):
        return None
    signal = getattr(episode.trace, model.rule.coincidence_signal, None)
    if signal is None:
        return None
    topology = model.topology
    layer, row = topology.pre_neuron(sid)
    column = topology.post_neuron(sid)[1]
    step_weights = np.asarray(model.rule.coincidence_weights(episode.broadcast), dtype=np.float64)
    pre = np.asarray(episode.trace.inputs[layer][row], dtype=np.float64)
    post = np.asarray(signal[layer][column], dtype=np.float64)
    return pre * post * step_weights / pre.size
