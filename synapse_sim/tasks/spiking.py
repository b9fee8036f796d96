"""Spiking GLM neurons as the policy of an episode (../shared/specs/qagrel-spiking.md, 2.2-2.4).

One stochastic binary spike per neuron and time step: drive z = h W + b, spike s = +1 with
probability sigmoid(2z) (mean tanh z), else -1; the spikes are the next layer's input. The
output layer holds K neurons per action (``control.actors``; neuron k * n_actions + a votes
for action a): the action is the one with most +1 spikes (ties: the first), then epsilon-greedy.
Each neuron's eligibility is d log pi(s) / dz = s - tanh z; an output neuron's is signed by its
module's credit c (the chosen action's neurons +1; the others -1 if they spiked, +1 if not: the
spec's CartPole code; ``credit = "target"``: +1 where (spiked) == (its action was chosen), the
gridworld code). Hidden neurons serve every action (no modules): c = +1.
"""

from __future__ import annotations

import numpy as np

from .base import affine, rows

CREDITS = ("chosen", "target")


def spike_forward_batch(x, weights, rngs) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(each layer's input, its drives z, its spikes s), bottom-up, for runs in rows (stacked weights:
    runs x (in + 1) x out), each run drawing one uniform per neuron from its own generator."""
    inputs, drives, spikes = [], [], []
    h = x
    for w in weights:
        inputs.append(h)
        z = affine(h, w)
        uniforms = rows([rng.random(z.shape[1]) for rng in rngs])
        s = np.where(uniforms < 0.5 * (1 + np.tanh(z)), 1, -1).astype(z.dtype)
        drives.append(z)
        spikes.append(s)
        h = s
    return inputs, drives, spikes


def spike_forward(x, weights, rng) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """(each layer's input, its drives z, its spikes s) of one observation, drawing one uniform per neuron."""
    batch = spike_forward_batch(np.asarray(x)[None], [w[None] for w in weights], [rng])
    return tuple([a[0] for a in part] for part in batch)


def vote(output_spikes: np.ndarray, n_actions: int) -> int:
    """The action most of the K output populations spiked for (ties: the first)."""
    counts = (output_spikes.reshape(-1, n_actions) > 0).sum(axis=0)
    return int(np.argmax(counts))


def choose(output_spikes, n_actions: int, epsilon: float, rng) -> int:
    """The vote, or with probability ``epsilon`` a uniformly random action (one draw, a second if exploring)."""
    action = vote(output_spikes, n_actions)
    if epsilon and rng.random() < epsilon:
        action = int(rng.integers(n_actions))
    return action


def credit(output_spikes: np.ndarray, action: int, n_actions: int, mode: str = "chosen") -> np.ndarray:
    """Per output neuron, its module's sign c."""
    chosen = (np.arange(output_spikes.size) % n_actions) == action
    spiked = output_spikes > 0
    if mode == "target":
        return np.where(spiked == chosen, 1, -1).astype(output_spikes.dtype)
    return np.where(chosen | ~spiked, 1, -1).astype(output_spikes.dtype)


def post_signals(drives, spikes, action: int, n_actions: int, mode: str) -> list[np.ndarray]:
    """Per layer, each neuron's c * (s - tanh z): its synapses' eligibility is pre x this."""
    signals = [s - np.tanh(z) for z, s in zip(drives, spikes, strict=True)]
    signals[-1] = signals[-1] * credit(spikes[-1], action, n_actions, mode)
    return signals
