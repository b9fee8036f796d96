"""Information per cell: the Shannon entropy of each synapse's action sequence, the mutual information
between its actions ``lag`` steps apart (CellPyLib's cell entropy and average mutual information), and the
entropy floor that exploration alone sets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...rules.synaptic_rl.policy import N_ACTIONS

__all__ = [
    "cell_entropy",
    "exploration_floor",
    "lagged_mutual_information",
    "mi_bias",
    "mutual_information_curve",
    "plot_cell_entropy",
    "plot_mutual_information",
]

MAX_ENTROPY = float(np.log2(N_ACTIONS))


def _entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, -p * np.log2(p), 0.0).sum(axis=axis)


def _field(actions) -> np.ndarray:
    field = np.asarray(actions, dtype=np.int64)
    if field.ndim != 2:
        raise ValueError(f"actions must have shape (steps, n_synapses), got {field.shape}")
    if field.size and (field.min() < 0 or field.max() >= N_ACTIONS):
        raise ValueError("actions must be 0 (decrement), 1 (keep) or 2 (increment)")
    return field


def _counts(codes: np.ndarray, k: int) -> np.ndarray:
    """Per-column histograms of ``codes`` (steps, n) with values below ``k``: shape ``(n, k)``."""
    n = codes.shape[1]
    flat = codes + (np.arange(n) * k)[None, :]
    return np.bincount(flat.ravel(), minlength=n * k).reshape(n, k)


def cell_entropy(actions, window: int | None = None) -> np.ndarray:
    """Shannon entropy (bits) of each synapse's action over time (the plug-in estimate).

    Returns shape ``(n_synapses,)``; with ``window`` one row per non-overlapping window
    of that many steps, shape ``(steps // window, n_synapses)`` (a trailing partial
    window is dropped). 0 bits: the synapse always does the same; log2(3) ~ 1.585: the
    three actions equally often. Compare with :func:`exploration_floor`.
    """
    field = _field(actions)
    if window is None:
        counts = _counts(field, N_ACTIONS)
        return _entropy(counts / max(1, field.shape[0]))
    if window < 1:
        raise ValueError(f"window must be at least 1 step, got {window}")
    windows = field.shape[0] // window
    blocks = field[: windows * window].reshape(windows, window, field.shape[1])
    return np.stack([cell_entropy(b) for b in blocks]) if windows else np.empty((0, field.shape[1]))


def lagged_mutual_information(actions, lag: int = 1, average: bool = False):
    """Mutual information (bits) between a synapse's action at t and at t + ``lag``, per synapse.

    The plug-in estimate from the joint counts over all t of one synapse's sequence:
    ``I = H(a_t) + H(a_{t+lag}) - H(a_t, a_{t+lag})``. It is biased upwards for short
    sequences (about :func:`mi_bias` for independent actions). ``average=True``
    returns the mean over synapses (CellPyLib's ``average_mutual_information``).
    """
    field = _field(actions)
    if not 1 <= lag < field.shape[0]:
        raise ValueError(f"lag must be between 1 and steps - 1 = {field.shape[0] - 1}, got {lag}")
    before, after = field[:-lag], field[lag:]
    pairs = before.shape[0]
    joint = _counts(before * N_ACTIONS + after, N_ACTIONS * N_ACTIONS) / pairs
    p_before = _counts(before, N_ACTIONS) / pairs
    p_after = _counts(after, N_ACTIONS) / pairs
    mi = np.maximum(_entropy(p_before) + _entropy(p_after) - _entropy(joint), 0.0)
    return float(mi.mean()) if average else mi


def mutual_information_curve(actions, lags: Sequence[int]) -> np.ndarray:
    """:func:`lagged_mutual_information` for each lag: shape ``(len(lags), n_synapses)``."""
    return np.stack([lagged_mutual_information(actions, int(lag)) for lag in lags])


def mi_bias(n_samples: int, n_symbols: int = N_ACTIONS) -> float:
    """Expected plug-in MI (bits) of two *independent* sequences of ``n_samples`` pairs: ``(k-1)^2 / (2 N ln 2)``."""
    return (n_symbols - 1) ** 2 / (2.0 * max(1, n_samples) * np.log(2))


def exploration_floor(epsilon: float) -> float:
    """Entropy (bits) a synapse shows from exploration alone, even when its greedy action never changes.

    With probability 1 - epsilon it takes the greedy action, with epsilon a uniformly
    random one: the greedy action has probability 1 - 2 epsilon / 3, each other action
    epsilon / 3. This is also a lower bound (in expectation) for any synapse under
    epsilon-greedy choice: its action distribution is a mixture of such distributions,
    one per step, and entropy is concave. 0 for epsilon = 0, ~0.82 bits for 0.25.
    """
    eps = float(epsilon)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"epsilon must lie in [0, 1], got {epsilon}")
    return float(_entropy(np.array([1 - 2 * eps / 3, eps / 3, eps / 3])))


def plot_cell_entropy(ax, entropy, epsilon: float | None = None, bins: int = 30):
    """Histogram of per-synapse entropies (a 2-D array is pooled), with the exploration floor marked.

    ``epsilon`` draws the floor :func:`exploration_floor` as a dashed line; the maximum
    log2(3) is dotted. Synapses near the floor always want the same action.
    """
    values = np.asarray(entropy, dtype=np.float64).ravel()
    ax.hist(values, bins=np.linspace(0, MAX_ENTROPY * 1.001, bins + 1), color="0.45")
    if epsilon is not None:
        floor = exploration_floor(epsilon)
        ax.axvline(
            floor, color="tab:red", ls="--", lw=1.2, label=f"exploration floor ({floor:.3f} bits, eps={epsilon:g})"
        )
    ax.axvline(MAX_ENTROPY, color="k", ls=":", lw=1, label="log2(3): uniform")
    ax.axvline(float(values.mean()) if values.size else 0.0, color="tab:blue", lw=1, label="mean")
    ax.set_xlabel("entropy of a synapse's actions (bits)")
    ax.set_ylabel("synapses")
    ax.legend(fontsize="x-small")
    return ax


def plot_mutual_information(ax, lags, mi, n_samples: int | None = None, band=(0.1, 0.9)):
    """Mutual information against lag: ``mi`` per lag (1-D) or per lag and synapse (2-D: mean line and
    ``band`` quantiles over synapses). ``n_samples`` (steps in the record) draws the bias of independent
    sequences (:func:`mi_bias`), the level below which a value means nothing."""
    lags = np.asarray(lags)
    mi = np.asarray(mi, dtype=np.float64)
    if mi.ndim == 2:
        ax.fill_between(lags, np.quantile(mi, band[0], axis=1), np.quantile(mi, band[1], axis=1), alpha=0.25, lw=0)
        mi = mi.mean(axis=1)
    ax.plot(lags, mi, "o-", ms=3, label="mean over synapses")
    if n_samples is not None:
        ax.axhline(mi_bias(n_samples), color="0.5", ls=":", lw=1, label="bias of independent sequences")
    ax.set_xlabel("lag k (steps)")
    ax.set_ylabel("I(a_t; a_t+k) (bits)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize="x-small")
    return ax
