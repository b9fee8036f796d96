"""The population as a state-occupancy distribution: which memory states the synapses are in, step by step.

Every synapse shares one reward history, so at any step only the states with that
reward history can be occupied (9 of the paper's 81: the 3 x 3 remembered actions):
the population is a distribution over a few states, driven by a 2-bit signal.
"""

from __future__ import annotations

import numpy as np

from .spacetime import ACTION_COLORS, REWARD_COLORS

__all__ = [
    "occupancy",
    "occupied_count",
    "plot_occupancy",
    "plot_state_spacetime",
    "record_states",
    "top_states",
]


def _memory_field(engine, name: str) -> np.ndarray:
    """One memory field of every synapse, sid order, from a ``VectorEngine`` or a ``SynapseModel``."""
    population = getattr(engine, "population", None)
    if population is not None:
        return np.array(population.state[name], copy=True)
    return np.array([agent.memory[name] for agent in engine.synapses])


def record_states(engine, steps: int, actions: bool = False):
    """Step ``engine`` (a ``VectorEngine`` or ``SynapseModel``) ``steps`` times, recording each synapse's state.

    ``states[t]`` is the memory state (the rule's ``state`` field, a state-space index)
    each synapse acts *from* at step t, so it pairs with the action of step t
    (:func:`record_actions`) and with ``rewards[t]``, the global reward that step earns.
    Returns ``(states, rewards)``, shapes ``(steps, n_synapses)`` and ``(steps,)``;
    with ``actions=True`` ``(states, actions, rewards)``.
    """
    n = engine.simulation.topology.n_synapses
    space = getattr(engine.simulation.rule, "state_space", None)
    if space is None:
        raise ValueError(f"rule {engine.simulation.rule.name!r} has no state space (record_states needs synaptic_rl)")
    dtype = np.int16 if space.n_states <= np.iinfo(np.int16).max else np.int64
    states = np.empty((steps, n), dtype=dtype)
    taken = np.empty((steps, n), dtype=np.int8)
    rewards = np.empty(steps, dtype=np.int8)
    for t in range(steps):
        states[t] = _memory_field(engine, "state")
        engine.step()
        taken[t] = getattr(engine, "population", engine).actions()
        rewards[t] = engine.last_result.reward
    return (states, taken, rewards) if actions else (states, rewards)


def occupancy(states, n_states: int) -> np.ndarray:
    """Fraction of synapses in each state at each step, shape ``(steps, n_states)``; every row sums to 1."""
    field = np.asarray(states, dtype=np.int64)
    if field.ndim != 2:
        raise ValueError(f"states must have shape (steps, n_synapses), got {field.shape}")
    if field.size and (field.min() < 0 or field.max() >= n_states):
        raise ValueError(f"states must lie in 0..{n_states - 1}, got {field.min()}..{field.max()}")
    steps, n = field.shape
    flat = field + (np.arange(steps) * n_states)[:, None]
    return np.bincount(flat.ravel(), minlength=steps * n_states).reshape(steps, n_states) / n


def occupied_count(occ) -> np.ndarray:
    """Number of states holding at least one synapse, per step."""
    return np.count_nonzero(np.asarray(occ) > 0, axis=1)


def top_states(occ, k: int = 10) -> list[tuple[int, float]]:
    """The ``k`` states with the largest mean occupancy over time, as ``(state, mean fraction)``, largest first."""
    mean = np.asarray(occ, dtype=np.float64).mean(axis=0)
    order = np.argsort(-mean, kind="stable")[:k]
    return [(int(s), float(mean[s])) for s in order if mean[s] > 0]


def _rows(occ, rows) -> np.ndarray:
    if rows is None or (isinstance(rows, str) and rows == "occupied"):
        return np.flatnonzero(np.asarray(occ).max(axis=0) > 0)
    if isinstance(rows, str) and rows == "all":
        return np.arange(np.asarray(occ).shape[1])
    return np.asarray(rows, dtype=np.int64)


def plot_occupancy(target, occ, rewards, labels=None, rows="occupied", t0: int = 1, cmap="viridis"):
    """Space-time of the state occupancy (states x time, colour = fraction of synapses) under a reward strip.

    ``target`` is a matplotlib ``Figure`` (two stacked axes are added to it) or a pair
    ``(reward_ax, occupancy_ax)`` the caller laid out (same time axis; the strip is
    drawn on the first). ``rows`` picks the states shown: ``"occupied"`` (states that
    ever hold a synapse, default), ``"all"``, or a list of state indices (e.g.
    :func:`reachable_states`). ``labels`` (e.g. ``state_space.labels()``) names the rows.
    Returns ``(reward_ax, occupancy_ax)``.
    """
    from matplotlib.colors import ListedColormap

    occ = np.asarray(occ, dtype=np.float64)
    rewards = np.asarray(rewards)
    if hasattr(target, "add_gridspec"):
        grid = target.add_gridspec(2, 1, height_ratios=(1, 12), hspace=0.05)
        reward_ax = target.add_subplot(grid[0])
        occ_ax = target.add_subplot(grid[1], sharex=reward_ax)
    else:
        reward_ax, occ_ax = target
    shown = _rows(occ, rows)
    steps = occ.shape[0]
    extent_t = (t0 - 0.5, t0 + steps - 0.5)
    strip = np.where(rewards > 0, 2, np.where(rewards < 0, 0, 1))[None, :]
    reward_ax.imshow(
        strip,
        cmap=ListedColormap([REWARD_COLORS[-1], "0.85", REWARD_COLORS[1]]),
        vmin=0,
        vmax=2,
        aspect="auto",
        interpolation="nearest",
        extent=(*extent_t, 0.5, -0.5),
    )
    reward_ax.set_yticks([0], ["reward"])
    reward_ax.tick_params(axis="x", labelbottom=False)
    reward_ax.set_title(f"state occupancy (reward strip: green +1, red -1); {len(shown)} states shown")
    image = occ_ax.imshow(
        occ[:, shown].T,
        cmap=cmap,
        vmin=0,
        vmax=max(1e-12, float(occ[:, shown].max()) if shown.size else 1.0),
        aspect="auto",
        interpolation="nearest",
        extent=(*extent_t, len(shown) - 0.5, -0.5),
    )
    if labels is not None and len(shown) <= 60:
        occ_ax.set_yticks(range(len(shown)), [f"{s}: {labels[s]}" for s in shown], fontsize=6)
    occ_ax.set_xlabel("step")
    occ_ax.set_ylabel("memory state")
    occ_ax.figure.colorbar(image, ax=occ_ax, label="fraction of synapses", fraction=0.04, pad=0.01)
    return reward_ax, occ_ax


def plot_state_spacetime(ax, states, state_space, order=None, t0: int = 1):
    """Per-synapse space-time of the *own* part of each state: the remembered actions (time runs down).

    The reward part of the state is the same for every synapse at a given step, so
    only the action memory tells synapses apart; it is drawn as one colour per
    remembered-action combination (e.g. 9 for two actions). ``order`` permutes the
    columns (:func:`synapse_order`).
    """
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    from .automaton import _memory_space

    _memory_space(state_space)
    field = np.asarray(states, dtype=np.int64) // state_space.cardinalities[1]
    if order is not None:
        field = field[:, np.asarray(order)]
    n_codes = state_space.cardinalities[0]
    names = state_space.features[0].digit_labels()
    palette = {3: ACTION_COLORS, 9: _NINE}
    colors = list(palette.get(n_codes, [colormaps["tab20"](i % 20) for i in range(n_codes)]))
    image = ax.imshow(
        field,
        cmap=ListedColormap(colors),
        vmin=-0.5,
        vmax=n_codes - 0.5,
        aspect="auto",
        interpolation="nearest",
        extent=(-0.5, field.shape[1] - 0.5, t0 + field.shape[0] - 0.5, t0 - 0.5),
    )
    bar = ax.figure.colorbar(image, ax=ax, ticks=range(n_codes), fraction=0.04, pad=0.01)
    if n_codes <= 27:
        bar.ax.set_yticklabels(names, fontsize=6)
    bar.set_label("remembered actions (newest first)")
    ax.set_xlabel("synapse")
    ax.set_ylabel("step")
    ax.set_title("each synapse's remembered actions")
    return ax


# 9 colours for two remembered actions, grouped by the newest: reds (dec, ...), greys (keep, ...), blues (inc, ...)
_NINE = ("#99000d", "#ef3b2c", "#fc9272", "#525252", "#bdbdbd", "#f0f0f0", "#08306b", "#2171b5", "#9ecae1")
