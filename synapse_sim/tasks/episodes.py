"""One episode of an environment, driven by the network as a softmax policy (NRL, RMHL, REINFORCE).

Per time step the observation goes through the clean network and, when the pass has noise,
through a noisy twin with the same weights: Gaussian noise xi on every pre-activation, the
output logits too (../shared/specs/nrl-rmhl.md, section 0). The action is sampled from the
clean or the noisy softmax. The trace keeps, per time step (columns), each layer's input, the
noise, and, for REINFORCE, each neuron's d log pi(a_t) / d a (the output's onehot(a_t) - pi_t
sent back through the clean pass); for NRL the record keeps dp_t = log pi~(a_t) - log pi(a_t)
and the noise power Z_t. Everything random is drawn from one generator per episode (keyed by
the run's seed and the episode), and the environment is reset with a seed from it, so every
view and a resumed run replay the same episode. With ``implicit_noise`` the neurons' noise is
read as noisy minus clean pre-activation (hardware whose noise cannot be read: in a hidden
layer it then holds the noise of the layers below too). With ``reference_passes`` K > 0 there
is no clean pass to compare with: the reference policy is the mean of K further noisy passes
(NRL's "noisy-only" variant); the action is sampled from it. A pass with ``policy = "spiking"`` runs the
network as stochastic binary GLM neurons instead (:mod:`.spiking`): the trace's feedback is then
each neuron's signed eligibility. A ``Discrete`` observation enters the network one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import ScenarioError
from .base import ACTIVATIONS, NonFiniteLossError, Trace
from .observations import ObservationCode
from .spiking import choose, post_signals, spike_forward
from .trials import gate


class EnvironmentValueError(NonFiniteLossError):
    """The environment returned a non-finite observation or reward; the run stops before recording it."""


@dataclass(frozen=True)
class EpisodeSpec:
    """What the engine hands the task for an episode pass (:class:`synapse_sim.rules.Episode`) and its generator."""

    noise_std: float
    act_on: str
    probe: bool
    gradient: bool
    rng: np.random.Generator
    policy: str = "softmax"
    epsilon: float = 0.0
    credit: str = "chosen"
    implicit_noise: bool = False
    reference_passes: int = 0
    activity_mean: tuple | None = None
    activity_rate: float = 0.66


@dataclass
class EpisodeRecord:
    """Per time step: the action, the reward, and (NRL's probe) dp_t and the noise power Z_t; the
    observations the network saw (one more than the actions: the last one follows the last
    step), the raw ones mapped into [0, 1] per dimension (:meth:`ObservationCode.unit`), and whether the episode
    ended in a terminal state (not by a time limit)."""

    actions: np.ndarray
    rewards: np.ndarray
    log_prob_change: np.ndarray | None
    noise_power: np.ndarray | None
    observations: np.ndarray | None = None
    unit_observations: np.ndarray | None = None
    terminated: bool = False
    activity_mean: list | None = None
    reset_seed: int | None = None  # the environment was reset with it: a replay with a drawing copy starts here

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards, dtype=np.float64))

    @property
    def length(self) -> int:
        return int(self.actions.size)


def forward(x, weights, activation: str, noise=None, pre=None) -> tuple[list[np.ndarray], np.ndarray]:
    """One observation through the network: (each layer's input, without the bias unit; the output logits).

    ``pre``: a list that receives each layer's pre-activation (noise included)."""
    f = ACTIVATIONS[activation]
    inputs, h = [], x
    for layer, w in enumerate(weights):
        inputs.append(h)
        a = h @ w[:-1] + w[-1]
        if noise is not None:
            a += noise[layer]
        if pre is not None:
            pre.append(a.copy())  # the activations work in place
        h = a if layer == len(weights) - 1 else f(a)
    return inputs, h


def hebbian_signal(means, noisy_pre, noise, rate: float) -> list[np.ndarray]:
    """Each neuron's noisy pre-activation minus its running mean, the mean first updated with the
    pre-activation without this step's noise (the spec's code order): exploratory Hebbian."""
    signal = []
    for layer, (pre, xi) in enumerate(zip(noisy_pre, noise, strict=True)):
        means[layer] += rate * ((pre - xi) - means[layer])
        signal.append((pre - means[layer]).astype(pre.dtype))
    return signal


def reference_policy(x, weights, spec: EpisodeSpec, sizes, activation: str) -> np.ndarray:
    """log of the mean policy of ``spec.reference_passes`` further noisy passes (NRL without a clean pass)."""
    dtype = weights[0].dtype
    probabilities = 0.0
    for _ in range(spec.reference_passes):
        noise = [(spec.rng.standard_normal(n) * spec.noise_std).astype(dtype) for n in sizes]
        probabilities = probabilities + np.exp(log_softmax(forward(x, weights, activation, noise)[1]))
    return np.log(probabilities / spec.reference_passes)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64, copy=False)
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def backward(inputs, weights, error, activation: str) -> list[np.ndarray]:
    """Each layer's d(objective)/d(pre-activation), from the output's ``error`` back through the weights."""
    signals = [error]
    for layer in range(len(weights) - 1, 0, -1):
        signals.insert(0, (weights[layer][:-1] @ signals[0]) * gate(inputs[layer], activation))
    return signals


def run_episode(env, weights, spec: EpisodeSpec, activation: str, env_name: str, max_steps: int = 0, encode=None):
    """Run one episode; returns (its :class:`EpisodeRecord`, the :class:`Trace` of its time steps).

    ``encode``: the :class:`~.observations.ObservationCode` (default: the raw observation)."""
    dtype = weights[0].dtype
    sizes = [w.shape[1] for w in weights]
    rng = spec.rng
    encode = encode or ObservationCode(env.observation_space)
    raw = []
    n_actions = int(env.action_space.n)
    reset_seed = int(rng.integers(2**31))
    observation, _ = env.reset(seed=reset_seed)
    seen, inputs, noises, feedback, actions, rewards, changes, powers = [], [], [], [], [], [], [], []
    means = None if spec.activity_mean is None else [np.array(m, dtype=np.float64) for m in spec.activity_mean]
    t = 0
    while True:
        x = checked(encode(observation), weights[0].shape[0] - 1, env_name, t, dtype)
        seen.append(x)
        raw.append(observation)
        noise = None
        if spec.policy == "spiking":
            layer_inputs, drives, spikes = spike_forward(x, weights, rng)
            action = choose(spikes[-1], n_actions, spec.epsilon, rng)
            feedback.append(post_signals(drives, spikes, action, n_actions, spec.credit))
            inputs.append(layer_inputs)
        else:
            if spec.noise_std:
                noise = [(rng.standard_normal(n) * spec.noise_std).astype(dtype) for n in sizes]
            # pre-activations are copied out only for the variants that read them
            clean_pre = [] if spec.implicit_noise else None
            noisy_pre = [] if spec.implicit_noise or means is not None else None
            clean_inputs, logits = forward(x, weights, activation, pre=clean_pre)
            noisy_inputs, noisy_logits = (
                forward(x, weights, activation, noise, noisy_pre) if noise is not None else (None, None)
            )
            if noise is not None and spec.implicit_noise:
                noise = [b - a for a, b in zip(clean_pre, noisy_pre, strict=True)]
            if noise is not None and means is not None:
                noise = hebbian_signal(means, noisy_pre, noise, spec.activity_rate)
            log_pi = (
                log_softmax(logits)
                if not spec.reference_passes
                else reference_policy(x, weights, spec, sizes, activation)
            )
            acting = log_pi if spec.act_on == "clean" or noise is None else log_softmax(noisy_logits)
            action = int(min(np.searchsorted(np.cumsum(np.exp(acting)), rng.random()), logits.size - 1))
            if spec.probe:
                changes.append(log_softmax(noisy_logits)[action] - log_pi[action])
                powers.append(sum(float(np.dot(xi, xi)) for xi in noise))
            if spec.gradient:
                error = -np.exp(log_pi).astype(dtype)
                error[action] += 1
                feedback.append(backward(clean_inputs, weights, error, activation))
            inputs.append(noisy_inputs if noise is not None else clean_inputs)
        if noise is not None:
            noises.append(noise)
        observation, reward, terminated, truncated, _ = env.step(action)
        if not np.isfinite(reward):
            raise EnvironmentValueError(f"{env_name} returned the reward {reward} at time step {t} of an episode")
        actions.append(action)
        rewards.append(float(reward))
        t += 1
        if terminated or truncated or (max_steps and t >= max_steps):
            break
    seen.append(checked(encode(observation), weights[0].shape[0] - 1, env_name, t, dtype))
    raw.append(observation)
    observations = np.stack(seen)
    record = EpisodeRecord(
        np.array(actions, dtype=np.int64),
        np.array(rewards),
        np.array(changes) if spec.probe else None,
        np.array(powers) if spec.probe else None,
        observations,
        encode.unit(raw),
        bool(terminated),
        means,
        reset_seed,
    )
    columns = [with_ones(np.stack(layer, axis=1)) for layer in zip(*inputs, strict=True)]
    noise_columns = [np.stack(layer, axis=1) for layer in zip(*noises, strict=True)] if noises else None
    feedback_columns = [np.stack(layer, axis=1) for layer in zip(*feedback, strict=True)] if feedback else None
    trace = Trace(-record.rewards, columns, noise_columns, feedback=feedback_columns, episode=record)
    return record, trace


def with_ones(columns: np.ndarray) -> np.ndarray:
    """A layer's inputs (time steps in columns) with the bias unit's constant 1 as a last row."""
    return np.vstack([columns, np.ones((1, columns.shape[1]), dtype=columns.dtype)])


def checked(observation, n_inputs: int, env_name: str, t: int, dtype) -> np.ndarray:
    """The observation as the network's input, or a clear error (wrong shape, not finite)."""
    x = np.asarray(observation, dtype=dtype).ravel()
    if x.size != n_inputs:
        raise ScenarioError(
            f"{env_name} returned an observation of {x.size} numbers (shape {np.shape(observation)}), but the "
            f"network takes {n_inputs} inputs: set network.layers = [{x.size}, ..., n_actions]"
        )
    if not np.all(np.isfinite(x)):
        raise EnvironmentValueError(
            f"{env_name} returned a non-finite observation {x.tolist()} at time step {t} of an episode"
        )
    return x
