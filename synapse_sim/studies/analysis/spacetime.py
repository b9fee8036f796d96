"""Recording a run's actions, space-time diagrams and action statistics (mix, entropy, transitions)."""

from __future__ import annotations

import itertools

import numpy as np

from ...engine.topology import Topology
from ...rules.synaptic_rl.features import ACTION_NAMES
from ...rules.synaptic_rl.policy import N_ACTIONS

__all__ = [
    "ACTION_COLORS",
    "REWARD_COLORS",
    "action_entropy",
    "action_mix",
    "group_boundaries",
    "plot_action_mix",
    "plot_spacetime",
    "plot_transitions",
    "record_actions",
    "spacetime",
    "synapse_order",
    "transition_matrix",
]
ACTION_COLORS = ("#d7301f", "#f0f0f0", "#2b8cbe")  # dec / keep / inc, as synapse_sim.plots.ACTION_CMAP
REWARD_COLORS = {-1: "#d7301f", 1: "#1a9850"}


# --- recording and space-time diagrams -------------------------------------------------


def record_actions(engine, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Step ``engine`` (a ``VectorEngine`` or ``SynapseModel``) ``steps`` times.

    Returns ``(actions, rewards)``: actions of shape ``(steps, n_synapses)`` (int8, sid
    order) and the global reward of each step. The model's own ``action_log`` keeps only
    the last ``raster_length`` steps; this keeps them all.
    """
    n = engine.simulation.topology.n_synapses
    actions = np.empty((steps, n), dtype=np.int8)
    rewards = np.empty(steps, dtype=np.int8)
    for t in range(steps):
        engine.step()
        population = getattr(engine, "population", engine)
        actions[t] = population.actions()
        rewards[t] = engine.last_result.reward
    return actions, rewards


def synapse_order(topology: Topology, by: str = "layer") -> np.ndarray:
    """A permutation of synapse ids that groups related synapses next to each other.

    ``"sid"``: canonical order. ``"layer"``: by weight layer, bias synapses after the
    weights of their layer. ``"pre"``: by source neuron (layer, row, col).
    ``"post"``: by target neuron (layer, col, row), i.e. each neuron's fan-in together.
    """
    sid = np.arange(topology.n_synapses)
    keys = {
        "sid": (sid,),
        "layer": (sid, topology.is_bias, topology.layer),
        "pre": (topology.col, topology.row, topology.layer),
        "post": (topology.row, topology.col, topology.layer),
    }
    if by not in keys:
        raise ValueError(f"synapse order {by!r} is unknown; choose one of {sorted(keys)}")
    return np.lexsort(keys[by])


def group_boundaries(topology: Topology, order: np.ndarray, by: str = "layer") -> np.ndarray:
    """Column positions (in ``order``) where a new layer (``"layer"``) or neuron (``"pre"``/``"post"``) starts."""
    layer = topology.layer[order]
    if by == "pre":
        key = np.stack([layer, topology.row[order]])
    elif by == "post":
        key = np.stack([layer, topology.col[order]])
    else:
        key = layer[None, :]
    return np.flatnonzero(np.any(key[:, 1:] != key[:, :-1], axis=0)) + 1


def spacetime(actions, order=None) -> np.ndarray:
    """The action field as a space-time array: rows are steps (time runs down), columns synapses.

    ``order`` permutes the columns: a permutation array (e.g. from :func:`synapse_order`) or
    None for sid order.
    """
    field = np.asarray(actions)
    if field.ndim != 2:
        raise ValueError(f"actions must have shape (steps, n_synapses), got {field.shape}")
    return field if order is None else field[:, np.asarray(order)]


def plot_spacetime(ax, field, boundaries=(), title: str = "actions (synapse x time)", t0: int = 1):
    """Draw a space-time array (from :func:`spacetime`): red = decrement, grey = keep, blue = increment."""
    from matplotlib.colors import ListedColormap

    field = np.asarray(field)
    extent = (-0.5, field.shape[1] - 0.5, t0 + field.shape[0] - 0.5, t0 - 0.5)
    ax.imshow(
        field,
        cmap=ListedColormap(ACTION_COLORS),
        vmin=0,
        vmax=2,
        aspect="auto",
        interpolation="nearest",
        extent=extent,
    )
    for b in boundaries:
        ax.axvline(b - 0.5, color="k", lw=0.6)
    ax.set_xlabel("synapse")
    ax.set_ylabel("step")
    ax.set_title(title)
    return ax


# --- action statistics ------------------------------------------------------------------


def action_mix(actions) -> np.ndarray:
    """Fraction of synapses taking each action at each step, shape ``(steps, 3)``."""
    field = np.asarray(actions, dtype=np.int64)
    counts = np.stack([(field == a).sum(axis=1) for a in range(N_ACTIONS)], axis=1)
    return counts / field.shape[1]


def action_entropy(actions) -> np.ndarray:
    """Shannon entropy (bits) of the action distribution across synapses at each step.

    0 when every synapse does the same; log2(3) ~ 1.585 when the three actions are equally common.
    """
    p = action_mix(actions)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(p), 0.0)
    return terms.sum(axis=1)


def transition_matrix(actions, normalize: bool = False, per_synapse: bool = False) -> np.ndarray:
    """Counts of action a_t -> a_{t+1}, ``[a_t, a_{t+1}]``, pooled over synapses and steps.

    ``per_synapse=True`` returns one 3x3 matrix per synapse, shape ``(n, 3, 3)``.
    ``normalize=True`` turns rows into probabilities P(a_{t+1} | a_t); rows never
    visited are NaN (no data), not zero (a claim of "never").
    """
    field = np.asarray(actions, dtype=np.int64)
    before, after = field[:-1], field[1:]
    code = before * N_ACTIONS + after
    if per_synapse:
        n = field.shape[1]
        flat = code + (np.arange(n) * N_ACTIONS * N_ACTIONS)[None, :]
        counts = np.bincount(flat.ravel(), minlength=n * 9).reshape(n, N_ACTIONS, N_ACTIONS)
    else:
        counts = np.bincount(code.ravel(), minlength=9).reshape(N_ACTIONS, N_ACTIONS)
    if not normalize:
        return counts
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(totals > 0, counts / totals, np.nan)


def plot_action_mix(ax, actions, t0: int = 1, entropy: bool = True):
    """Stacked action fractions over time, with the entropy (bits) on a twin axis."""
    mix = action_mix(actions)
    t = np.arange(t0, t0 + mix.shape[0])
    ax.stackplot(t, mix.T, colors=ACTION_COLORS, labels=["decrement", "keep", "increment"], edgecolor="0.6", lw=0.3)
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction of synapses")
    ax.legend(loc="upper left", fontsize="small")
    if entropy:
        twin = ax.twinx()
        twin.plot(t, action_entropy(actions), color="k", lw=1.0, label="entropy")
        twin.set_ylim(0, np.log2(3) * 1.05)
        twin.set_ylabel("action entropy (bits)")
    return ax


def plot_transitions(ax, matrix, title: str = "action transitions"):
    """Heatmap of a 3x3 transition matrix (counts or probabilities), values written in the cells."""
    matrix = np.asarray(matrix, dtype=float)
    ax.imshow(matrix, cmap="Greys", interpolation="nearest")
    for i, j in itertools.product(range(N_ACTIONS), range(N_ACTIONS)):
        value = matrix[i, j]
        text = "-" if np.isnan(value) else (f"{value:.2f}" if not float(value).is_integer() else f"{int(value)}")
        ax.text(j, i, text, ha="center", va="center", color="tab:orange")
    ax.set_xticks(range(N_ACTIONS), ACTION_NAMES)
    ax.set_yticks(range(N_ACTIONS), ACTION_NAMES)
    ax.set_xlabel("a(t+1)")
    ax.set_ylabel("a(t)")
    ax.set_title(title)
    return ax
