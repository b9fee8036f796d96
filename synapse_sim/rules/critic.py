"""A linear TD(lambda) critic: the non-spiking value function whose TD error the spiking agents share.

V(s) = v . phi(s), with phi either the observation itself plus a constant (``"observation"``:
tabular for a one-hot gridworld cell) or the Fourier basis of order n on the observation mapped
into [0, 1] (``"fourier"``: cos(pi c . s) for every c in {0..n}^d; Konidaris et al. 2011, the
spiking agents' CartPole and mountain-car critics). Online TD(lambda) with accumulating traces,
replayed over the episode's record: delta_t = r_t + gamma V(s_{t+1}) - V(s_t) (V = 0 after a
terminal state; the official code does not zero it), z_t = gamma lambda z_{t-1} + phi(s_t),
v += alpha_v delta_t z_t / |phi(s_t)|^2 after every time step, as the official code steps; the
division (normalised LMS) lets one rate fit a 101-feature table and a 1,296-feature Fourier basis
(the official code's unnormalised alpha_v = 1e-3 with 1,296 features is about 0.6 here).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

FEATURES = ("fourier", "observation")
MAX_FOURIER_FEATURES = 100_000


def n_features(kind: str, n_inputs: int, order: int) -> int:
    if kind == "observation":
        return n_inputs + 1
    count = (order + 1) ** n_inputs
    if count > MAX_FOURIER_FEATURES:
        raise ValueError(
            f"a Fourier basis of order {order} on {n_inputs} inputs has {count:,} features (more than "
            f"{MAX_FOURIER_FEATURES:,}): lower spiking.fourier_order, or set spiking.critic_features = 'observation' "
            "(tabular for a one-hot observation)"
        )
    return count


def features(kind: str, observations: np.ndarray, unit_observations: np.ndarray, order: int) -> np.ndarray:
    """phi for each row of ``observations`` (time steps in rows, features in columns)."""
    if kind == "observation":
        return np.hstack([observations.astype(np.float64), np.ones((observations.shape[0], 1))])
    return np.cos(np.pi * unit_observations @ fourier_coefficients(unit_observations.shape[1], order).T)


@functools.cache
def fourier_coefficients(d: int, order: int) -> np.ndarray:
    """Every c in {0..order}^d, one per row (made once per shape, not once per episode)."""
    coefficients = np.array(list(itertools.product(range(order + 1), repeat=d)), dtype=np.float64)
    coefficients.flags.writeable = False
    return coefficients


def td_lambda(v, phi, rewards, terminated: bool, gamma: float, trace_decay: float, rate: float):
    """Replay the episode through online TD(lambda): (delta_t for its T steps, the values after it).

    ``phi`` holds T + 1 rows: the state before each step and the one after the last."""
    v = np.array(v, dtype=np.float64)
    z = np.zeros_like(v)
    deltas = np.empty(len(rewards))
    norms = np.maximum(np.einsum("ij,ij->i", phi, phi), 1e-12)
    for t, reward in enumerate(rewards):
        after = 0.0 if (terminated and t == len(rewards) - 1) else float(phi[t + 1] @ v)
        delta = float(reward) + gamma * after - float(phi[t] @ v)
        deltas[t] = delta
        z *= gamma * trace_decay
        z += phi[t]
        v += (rate * delta / norms[t]) * z
    return deltas, v
