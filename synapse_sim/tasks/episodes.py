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
from .base import ACTIVATIONS, NonFiniteLossError, Trace, affine, rows, split_bias
from .observations import ObservationCode
from .spiking import choose, post_signals, spike_forward_batch
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
    output_spikes: np.ndarray | None = None  # spiking rule: (time steps, output neurons) of +1 / -1, the voters

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards, dtype=np.float64))

    @property
    def length(self) -> int:
        return int(self.actions.size)


def forward_batch(x, weights, activation: str, noise=None, pre=None) -> tuple[list[np.ndarray], np.ndarray]:
    """Observations (rows, one per run) through stacked networks (per layer: runs x (in + 1) x out):
    (each layer's input, without the bias unit; the output logits), rows per run.

    ``pre``: a list that receives each layer's pre-activation (noise included)."""
    f = ACTIVATIONS[activation]
    inputs, h = [], x
    for layer, w in enumerate(weights):
        inputs.append(h)
        a = affine(h, w)
        if noise is not None:
            a += noise[layer]
        if pre is not None:
            pre.append(a.copy())  # the activations work in place
        h = a if layer == len(weights) - 1 else f(a)
    return inputs, h


def forward(x, weights, activation: str, noise=None, pre=None) -> tuple[list[np.ndarray], np.ndarray]:
    """One observation through the network: (each layer's input, without the bias unit; the output logits).

    ``pre``: a list that receives each layer's pre-activation (noise included)."""
    batch_pre = None if pre is None else []
    inputs, logits = forward_batch(
        np.asarray(x)[None],
        [w[None] for w in weights],
        activation,
        None if noise is None else [n[None] for n in noise],
        batch_pre,
    )
    if pre is not None:
        pre.extend(a[0] for a in batch_pre)
    return [h[0] for h in inputs], logits[0]


def hebbian_signal(means, noisy_pre, noise, rate: float) -> list[np.ndarray]:
    """Each neuron's noisy pre-activation minus its running mean, the mean first updated with the
    pre-activation without this step's noise (the spec's code order): exploratory Hebbian."""
    signal = []
    for layer, (pre, xi) in enumerate(zip(noisy_pre, noise, strict=True)):
        means[layer] += rate * ((pre - xi) - means[layer])
        signal.append((pre - means[layer]).astype(pre.dtype))
    return signal


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log softmax over the last axis (one row per run; one row, or a vector, the cheaper way)."""
    z = z.astype(np.float64, copy=False)
    if z.ndim == 1:
        z = z - z.max()
        return z - np.log(np.exp(z).sum())
    if z.shape[0] == 1:
        return log_softmax(z[0])[None]
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def backward(inputs, weights, error, activation: str) -> list[np.ndarray]:
    """Each layer's d(objective)/d(pre-activation), from the output's ``error`` back through the weights."""
    signals = [error]
    for layer in range(len(weights) - 1, 0, -1):
        signals.insert(0, (weights[layer][:-1] @ signals[0]) * gate(inputs[layer], activation))
    return signals


@dataclass
class EpisodeRequest:
    """One run's episode: its environment, the network's weights (per layer), the pass, and how to read it."""

    env: object
    weights: list[np.ndarray]
    spec: EpisodeSpec
    activation: str
    env_name: str
    max_steps: int = 0
    encode: ObservationCode | None = None

    def batch_key(self) -> tuple:
        """What runs stepped together must share: the network's shape and the kind of pass (not its values)."""
        s = self.spec
        shape = tuple((w.shape, w.dtype.str) for w in self.weights)
        return (
            self.activation,
            shape,
            s.policy,
            s.act_on,
            bool(s.noise_std),
            s.probe,
            s.gradient,
            s.implicit_noise,
            s.reference_passes,
            s.activity_mean is None,
        )


def run_episode(env, weights, spec: EpisodeSpec, activation: str, env_name: str, max_steps: int = 0, encode=None):
    """Run one episode; returns (its :class:`EpisodeRecord`, the :class:`Trace` of its time steps).

    ``encode``: the :class:`~.observations.ObservationCode` (default: the raw observation)."""
    (outcome,) = run_episodes([EpisodeRequest(env, weights, spec, activation, env_name, max_steps, encode)])
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def run_episodes(requests: list[EpisodeRequest]) -> list:
    """The episodes of several runs in lockstep; per run (record, trace), or the error that ended it.

    At each time step the runs still playing go through the network together, one stacked
    product per layer (:func:`affine`), and each steps its own environment. Every run draws
    from its own generator in the order it would alone, so run k's episode is the one it
    would have alone, bit for bit (tests/test_lockstep.py). Requests must share
    :meth:`EpisodeRequest.batch_key`."""
    if len(requests) > 1 and len({r.batch_key() for r in requests}) > 1:
        raise ValueError("episodes stepped together need one network shape and one kind of pass")
    plays = [_Play(r) for r in requests]
    stacked = [np.stack(layer) for layer in zip(*(r.weights for r in requests), strict=True)]
    members = None
    while True:
        active = [i for i, p in enumerate(plays) if p.playing and p.observe()]
        if not active:
            break
        if active != members:
            members = active
            weights = stacked if len(active) == len(plays) else [w[active] for w in stacked]
            weights = _Weights(weights)
        actions = _act([plays[i] for i in active], weights)
        for i, action in zip(active, actions, strict=True):
            plays[i].step(action)
    return [p.outcome() for p in plays]


def _act(plays, weights) -> list[int]:
    """Each playing run's action for its current observation, its trace entries appended."""
    spec = plays[0].spec
    x = rows([p.x for p in plays])
    n_actions = plays[0].n_actions
    if spec.policy == "spiking":
        return _spike([p for p in plays], x, weights, n_actions)
    dtype, sizes = weights.dtype, weights.sizes
    activation = plays[0].request.activation
    noise = None
    if spec.noise_std:
        noise = [p.draw_noise(sizes, dtype) for p in plays]
    clean_pre = [] if spec.implicit_noise else None
    noisy_pre = [] if spec.implicit_noise or spec.activity_mean is not None else None
    clean_inputs, logits = forward_batch(x, weights, activation, pre=clean_pre)
    noisy_inputs, noisy_logits = (
        forward_batch(x, weights, activation, _rows(noise), noisy_pre) if noise is not None else (None, None)
    )
    if noise is not None and spec.implicit_noise:
        noise = [[b[k] - a[k] for a, b in zip(clean_pre, noisy_pre, strict=True)] for k in range(len(plays))]
    if noise is not None and spec.activity_mean is not None:
        noise = [
            hebbian_signal(p.means, [a[k] for a in noisy_pre], noise[k], p.spec.activity_rate)
            for k, p in enumerate(plays)
        ]
    log_pi = log_softmax(logits) if not spec.reference_passes else _reference(plays, x, weights, sizes, activation)
    acting = log_pi if spec.act_on == "clean" or noise is None else log_softmax(noisy_logits)
    cumulative = np.cumsum(np.exp(acting), axis=-1)
    noisy_log_pi = log_softmax(noisy_logits) if spec.probe else None
    actions = []
    for k, p in enumerate(plays):
        action = int(min(np.searchsorted(cumulative[k], p.rng.random()), logits.shape[1] - 1))
        if spec.probe:
            p.changes.append(noisy_log_pi[k, action] - log_pi[k, action])
            p.powers.append(sum(float(np.dot(xi, xi)) for xi in noise[k]))
        if spec.gradient:
            error = -np.exp(log_pi[k]).astype(dtype)
            error[action] += 1
            p.feedback.append(backward([h[k] for h in clean_inputs], p.request.weights, error, activation))
        p.inputs.append([h[k] for h in (noisy_inputs if noise is not None else clean_inputs)])
        if noise is not None:
            p.noises.append(noise[k])
        actions.append(action)
    return actions


class _Weights(list):
    """The playing runs' stacked weights per layer, each as (matrices, biases) views made once."""

    def __init__(self, stacked):
        super().__init__(split_bias(w) for w in stacked)
        self.dtype = stacked[0].dtype
        self.sizes = [w.shape[2] for w in stacked]


def _rows(per_run: list[list[np.ndarray]]) -> list[np.ndarray]:
    """Per-run lists of per-layer vectors -> per layer, runs in rows."""
    return [rows(layer) for layer in zip(*per_run, strict=True)]


def _reference(plays, x, weights, sizes, activation) -> np.ndarray:
    """log of the mean policy of ``reference_passes`` further noisy passes (NRL without a clean pass)."""
    passes = plays[0].spec.reference_passes
    dtype = weights.dtype
    probabilities = 0.0
    for _ in range(passes):
        noise = _rows([p.draw_noise(sizes, dtype) for p in plays])
        probabilities = probabilities + np.exp(log_softmax(forward_batch(x, weights, activation, noise)[1]))
    return np.log(probabilities / passes)


def _spike(plays, x, weights, n_actions: int) -> list[int]:
    """Spiking GLM neurons (:mod:`.spiking`), the runs stacked."""
    inputs, drives, spikes = spike_forward_batch(x, weights, [p.rng for p in plays])
    actions = []
    for k, p in enumerate(plays):
        action = choose(spikes[-1][k], n_actions, p.spec.epsilon, p.rng)
        own = [s[k] for s in spikes]
        p.output_spikes.append(own[-1])
        p.feedback.append(post_signals([z[k] for z in drives], own, action, n_actions, p.spec.credit))
        p.inputs.append([h[k] for h in inputs])
        actions.append(action)
    return actions


class _Play:
    """One run's episode as it unfolds: its environment, generator and what the trace keeps."""

    def __init__(self, request: EpisodeRequest):
        self.request = request
        self.spec = request.spec
        self.rng = request.spec.rng
        self.env = request.env
        self.encode = request.encode or ObservationCode(self.env.observation_space)
        self.n_actions = int(self.env.action_space.n)
        self.n_inputs = request.weights[0].shape[0] - 1
        self.dtype = request.weights[0].dtype
        am = request.spec.activity_mean
        self.means = None if am is None else [np.array(m, dtype=np.float64) for m in am]
        self.seen, self.raw, self.inputs, self.noises, self.feedback = [], [], [], [], []
        self.actions, self.rewards, self.changes, self.powers, self.output_spikes = [], [], [], [], []
        self.t, self.terminated, self.playing, self.error, self.x = 0, False, True, None, None
        self.reset_seed = int(self.rng.integers(2**31))
        self.observation, _ = self.env.reset(seed=self.reset_seed)

    def draw_noise(self, sizes, dtype) -> list[np.ndarray]:
        return [(self.rng.standard_normal(n) * self.spec.noise_std).astype(dtype) for n in sizes]

    def observe(self) -> bool:
        """Read the current observation into ``x``; False (and the run stops) if it is not a valid input."""
        try:
            self.x = checked(self.encode(self.observation), self.n_inputs, self.request.env_name, self.t, self.dtype)
        except (ScenarioError, EnvironmentValueError) as exc:
            self.error, self.playing = exc, False
            return False
        self.seen.append(self.x)
        self.raw.append(self.observation)
        return True

    def step(self, action: int) -> None:
        self.observation, reward, terminated, truncated, _ = self.env.step(action)
        if not np.isfinite(reward):
            self.error = EnvironmentValueError(
                f"{self.request.env_name} returned the reward {reward} at time step {self.t} of an episode"
            )
            self.playing = False
            return
        self.actions.append(action)
        self.rewards.append(float(reward))
        self.t += 1
        max_steps = self.request.max_steps
        if terminated or truncated or (max_steps and self.t >= max_steps):
            self.terminated = bool(terminated)
            self.playing = False

    def outcome(self):
        """(record, trace), or the error that ended the episode."""
        if self.error is not None:
            return self.error
        try:
            last = checked(self.encode(self.observation), self.n_inputs, self.request.env_name, self.t, self.dtype)
        except (ScenarioError, EnvironmentValueError) as exc:
            return exc
        self.seen.append(last)
        self.raw.append(self.observation)
        probe = self.spec.probe
        record = EpisodeRecord(
            np.array(self.actions, dtype=np.int64),
            np.array(self.rewards),
            np.array(self.changes) if probe else None,
            np.array(self.powers) if probe else None,
            np.stack(self.seen),
            self.encode.unit(self.raw),
            self.terminated,
            self.means,
            self.reset_seed,
            np.stack(self.output_spikes) if self.output_spikes else None,
        )
        columns = [with_ones(np.stack(layer, axis=1)) for layer in zip(*self.inputs, strict=True)]
        noise = [np.stack(layer, axis=1) for layer in zip(*self.noises, strict=True)] if self.noises else None
        feedback = [np.stack(layer, axis=1) for layer in zip(*self.feedback, strict=True)] if self.feedback else None
        return record, Trace(-record.rewards, columns, noise, feedback=feedback, episode=record)


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
