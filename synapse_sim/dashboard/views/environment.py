"""5. A control task's environment: the last episode's frames, its actions and rewards, the spiking raster.

The episode is the model's ``episode`` (:class:`~..episode.LastEpisode`); its frames come from
replaying it (:class:`~..episode.EpisodeReplay`), one frame per time step asked for. Under the
spiking rule the raster of the episode shows each neuron's spike (+1) or silence (-1) per time
step: the hidden ones read from the trace (layer l's input, l >= 1, holds layer l's spikes; bias
row last), the output populations' from the episode record.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from .. import episode as episodes
from .common import fmt, hex_rgb, png
from .synapse import sparkline_svg

SPIKE_RGB = {1: hex_rgb("#1a1a1a"), -1: hex_rgb("#f2f2f2")}
ACTION_STRIP_HEX = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
LAYER_GAP_RGB = hex_rgb("#e6ab02")


@dataclass
class EnvironmentData:
    """The last episode in numbers: which step ran it, its actions and rewards, how it ended."""

    env_id: str
    step: int
    actions: np.ndarray
    rewards: np.ndarray
    episode_return: float
    terminated: bool  # a terminal state (else the time limit or control.max_steps ended it)
    threshold: float | None  # the environment's reward threshold ("solved"), if it has one

    @property
    def length(self) -> int:
        return int(self.actions.size)


def environment_data(model, episode=None) -> EnvironmentData | None:
    """``episode`` (default: the model's last, a :class:`~..episode.LastEpisode`) in numbers, or None
    before the first step (or on a task without episodes)."""
    episode = episode if episode is not None else getattr(model, "episode", None)
    if episode is None:
        return None
    record = episode.record
    return EnvironmentData(
        env_id=model.config["control"]["env"],
        step=int(episode.step),
        actions=np.asarray(record.actions),
        rewards=np.asarray(record.rewards, dtype=np.float64),
        episode_return=record.episode_return,
        terminated=bool(record.terminated),
        threshold=getattr(model.task, "reward_threshold", None),
    )


def frame_png(episode, t: int) -> tuple[bytes | None, str]:
    """(PNG of the frame after ``t`` actions of ``episode``, "") or (None, why there is none)."""
    if episode is None:
        return None, "no episode yet: press Step (one step runs one whole episode)"
    try:
        return png(episode.replay.frame(t)), ""
    except episodes.FramesUnavailable as exc:
        return None, f"{exc}; the episode's numbers are shown instead"


def no_episode_html(model) -> str:
    env = html.escape(str(model.config["control"]["env"]))
    return (
        f'<div class="synsim-no-episode synsim-note">{env}: no episode yet. Press Step: one step runs one whole '
        "episode, which this panel then replays frame by frame.</div>"
    )


def episode_html(data: EnvironmentData, t: int) -> str:
    """The episode's summary and time step ``t`` (the frame shown: the state after ``t`` actions)."""
    end = "a terminal state" if data.terminated else "the time limit"
    solved = ""
    if data.threshold is not None:
        solved = f" (threshold {fmt(data.threshold)}: {'reached' if data.episode_return >= data.threshold else 'not'})"
    if t == 0:
        now = "after the reset, before the first action"
    else:
        now = f"after action {int(data.actions[t - 1])} (reward {fmt(data.rewards[t - 1])})"
    return (
        f'<div class="synsim-episode" data-step="{data.step}" data-length="{data.length}" '
        f'data-return="{data.episode_return!r}" data-time="{t}">'
        f'<div class="synsim-title">{html.escape(data.env_id)}: the episode of step {data.step}</div>'
        f'<div class="synsim-note">{data.length} time steps, return {fmt(data.episode_return)}{solved}, '
        f"ended by {end}; frame {t} of {data.length}: {now}</div></div>"
    )


def rewards_svg(data: EnvironmentData) -> str:
    """The episode's cumulative reward per time step (a sparkline)."""
    return sparkline_svg(np.cumsum(data.rewards) if data.length else np.zeros(1), height=30, colour="#08519c")


# --- spikes ---------------------------------------------------------------------------------------------------
def spiking(model) -> bool:
    """Whether the neurons spike (``run.method = "spiking"``): the trace's layer inputs are then spikes."""
    return model.config["run"]["method"] == "spiking"


@dataclass
class SpikeData:
    spikes: list[np.ndarray]  # per layer, hidden ones then the output: (neurons, time steps) of +1 / -1
    actions: np.ndarray  # the action taken per time step (the populations' vote)
    step: int

    @property
    def layer_names(self) -> list[str]:
        return [f"hidden {i + 1}" for i in range(len(self.spikes) - 1)] + ["output"]


def spike_data(episode) -> SpikeData | None:
    """Each neuron's spikes over ``episode``'s time steps, hidden layers then the output populations
    (None before a step)."""
    if episode is None:
        return None
    spikes = [np.asarray(layer[:-1], dtype=np.int8) for layer in episode.trace.inputs[1:]]  # bias row last
    output = episode.record.output_spikes
    if output is not None:
        spikes.append(np.asarray(output.T, dtype=np.int8))
    return SpikeData(spikes, np.asarray(episode.record.actions), int(episode.step))


def spike_rgb(data: SpikeData) -> np.ndarray:
    """Rows: the action strip (a colour per action), then every neuron, hidden layers then the output
    populations, layers apart by an amber row; columns: time steps. One pixel each (the browser scales it up)."""
    steps = data.actions.size
    palette = np.array([hex_rgb(h) for h in ACTION_STRIP_HEX])
    strip = np.repeat(palette[data.actions % len(palette)][None], 3, axis=0)
    parts = [strip]
    for layer in data.spikes:
        parts.append(np.full((1, steps, 3), LAYER_GAP_RGB, dtype=np.uint8))
        parts.append(np.where((layer == 1)[..., None], SPIKE_RGB[1], SPIKE_RGB[-1]).astype(np.uint8))
    return np.concatenate(parts, axis=0)


def spike_html(data: SpikeData) -> str:
    counts = ", ".join(f"{name} {layer.shape[0]}" for name, layer in zip(data.layer_names, data.spikes, strict=True))
    rate = float(np.mean(np.concatenate([(s == 1).ravel() for s in data.spikes]))) if data.spikes else 0.0
    swatches = "".join(
        f'<span class="synsim-swatch" style="background:{ACTION_STRIP_HEX[a % len(ACTION_STRIP_HEX)]}"></span>{a}'
        for a in range(int(data.actions.max()) + 1 if data.actions.size else 0)
    )
    return (
        f'<div class="synsim-title synsim-spikes-title" data-neurons="{sum(s.shape[0] for s in data.spikes)}" '
        f'data-steps="{data.actions.size}">spikes of the episode of step {data.step}: neurons ({counts}) '
        f"x {data.actions.size} time steps</div>"
        '<div class="synsim-note">black: a spike (+1), light: none (-1); amber rows part the layers, the output '
        "populations last (neuron k x actions + a votes for action a); top strip: the action they voted "
        f"for{swatches}; spike rate {rate:.2f}</div>"
    )


def spike_png(data: SpikeData) -> bytes:
    return png(spike_rgb(data))


# --- one synapse over the episode --------------------------------------------------------------------------------
def synapse_episode_html(model, sid: int) -> str:
    """The inspector's part for an episode rule: the synapse's term per time step of the last episode
    (pre x post signal x the broadcast's weight), whose sum is the eligibility it stepped by."""
    if not episodes.runs_episodes(model) or not getattr(model.rule, "needs_episodes", False):
        return ""
    episode = getattr(model, "episode", None)
    terms = episodes.synapse_contributions(model, sid)
    if terms is None:
        why = "no episode yet" if episode is None else "its broadcast is not kept by a fast-forward: take an agent step"
        return f'<div class="synsim-note synsim-episode-terms">per time step of the last episode: {why}</div>'
    total = float(terms.sum())
    return (
        f'<div class="synsim-episode-terms" data-sum="{total!r}" data-steps="{terms.size}">'
        f"its term per time step of the episode of step {episode.step} (pre activity x post signal x the "
        f"broadcast's weight of that step); their sum {fmt(total, 6)} is the eligibility above:</div>"
        f"{sparkline_svg(terms, height=30, colour='#6a3d9a')}"
    )
