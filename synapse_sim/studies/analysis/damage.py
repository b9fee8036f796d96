"""Damage spreading and Derrida maps: how a small difference in memory or reward travels through the population.

One trajectory: :func:`damage_spreading`. Many single-synapse flips with their
statistics: :mod:`.damage_stats`. The Derrida map, for one or several horizons:
:func:`derrida_map` (:func:`derrida` keeps the one-step ``(x, y)`` form).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ._twins import engine_factory, flip_in, memory_differs, own_memory_differs, snapshot

__all__ = [
    "Damage",
    "DerridaMap",
    "damage_spreading",
    "derrida",
    "derrida_map",
    "flip_memory",
    "flip_reward",
    "plot_damage",
    "plot_derrida",
    "plot_derrida_map",
]

# --- damage spreading --------------------------------------------------------------------


def flip_memory(sid: int = 0, position: int = 0, action: int | None = None) -> Callable[[dict], None]:
    """A perturbation: change synapse ``sid``'s remembered action at ``position`` (0 = most recent).

    ``action`` defaults to the next action, (a + 1) mod 3.
    """

    def perturb(state: dict) -> None:
        old = int(state["action_history"][sid, position])
        state["action_history"][sid, position] = (old + 1) % 3 if action is None else int(action)

    return perturb


def flip_reward(position: int = 0) -> Callable[[dict], None]:
    """A perturbation: invert the remembered global reward at ``position`` (0 -> +1, +-1 -> -+1)."""

    def perturb(state: dict) -> None:
        old = int(state["reward_history"][position])
        state["reward_history"][position] = 1 if old == 0 else -old

    return perturb


@dataclass
class Damage:
    """Per-step difference between a run and its perturbed twin (index 0 = right after the perturbation)."""

    steps: np.ndarray
    action_diff: np.ndarray
    state_diff: np.ndarray
    sign_diff: np.ndarray
    weight_distance: np.ndarray
    reward_diff: np.ndarray
    n_synapses: int
    weight_diff: np.ndarray | None = None  # synapses whose weight differs (a memory flip heals, a weight stays)

    @property
    def action_fraction(self) -> np.ndarray:
        return self.action_diff / self.n_synapses

    @property
    def state_fraction(self) -> np.ndarray:
        return self.state_diff / self.n_synapses


def _twins(scenario, warmup: int, perturb):
    from ...engine.vector import VectorEngine

    base = VectorEngine(scenario)
    for _ in range(warmup):
        base.step()
    twin = VectorEngine(scenario)
    state = {k: np.array(v, copy=True) for k, v in base.checkpoint().items()}
    perturb(state)
    twin.restore(state)
    return base, twin


def damage_spreading(scenario, steps: int, perturb: Callable[[dict], None] | None = None, warmup: int = 0) -> Damage:
    """Run a scenario twice, the second copy perturbed, and measure how the difference spreads.

    Both copies draw the same randomness (it is keyed by (seed, step)), so any
    difference comes from the perturbation: by default :func:`flip_memory` of synapse 0,
    applied after ``warmup`` steps. A different action changes a weight, which may
    flip the *global* reward, which then reaches every synapse's state at once — the
    coupling that distinguishes this automaton from a local CA.
    """
    perturb = perturb or flip_memory(0)
    base, twin = _twins(scenario, warmup, perturb)
    n = base.simulation.topology.n_synapses
    rows = []

    def measure(reward_a, reward_b, actions_a, actions_b):
        wa, wb = base.population.weights, twin.population.weights
        rows.append(
            (
                0 if actions_a is None else int(np.count_nonzero(actions_a != actions_b)),
                int(np.count_nonzero(base.population.state["state"] != twin.population.state["state"])),
                int(np.count_nonzero(np.sign(wa) != np.sign(wb))),
                float(np.abs(wa.astype(np.float64) - wb.astype(np.float64)).sum()),
                reward_a != reward_b,
                int(np.count_nonzero(wa != wb)),
            )
        )

    measure(0, 0, None, None)
    for _ in range(steps):
        a, b = base.step(), twin.step()
        measure(a.reward, b.reward, base.population.actions(), twin.population.actions())
    cols = list(zip(*rows, strict=True))
    return Damage(
        steps=np.arange(warmup, warmup + steps + 1),
        action_diff=np.array(cols[0]),
        state_diff=np.array(cols[1]),
        sign_diff=np.array(cols[2]),
        weight_distance=np.array(cols[3]),
        reward_diff=np.array(cols[4], dtype=bool),
        n_synapses=n,
        weight_diff=np.array(cols[5]),
    )


@dataclass
class DerridaMap:
    """A Derrida map over several horizons (see :func:`derrida_map`); rows are fractions, columns horizons.

    ``x``: fraction of synapses perturbed (rounded to whole synapses). ``y``: mean
    fraction whose memory differs k steps later, counting the shared reward history
    (a differing remembered reward makes every synapse differ). ``y_own``: the same
    for the synapse's own memory only (its remembered actions). ``weights``: mean
    fraction of synapses whose weight differs. ``reward_flipped``: fraction of trials
    in which the global reward differed at some step <= k. ``action_memory``: how many
    past actions a synapse remembers (below that horizon y >= x by construction).
    """

    x: np.ndarray
    horizons: np.ndarray
    y: np.ndarray
    y_own: np.ndarray
    weights: np.ndarray
    reward_flipped: np.ndarray
    trials: int
    action_memory: int


def derrida_map(
    scenario,
    fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4),
    steps: int | Sequence[int] = (1, 2, 5, 20),
    warmup: int = 20,
    trials: int = 4,
    seed: int = 0,
    policy=None,
) -> DerridaMap:
    """Derrida map: memory damage k steps after perturbing a fraction x of the synapses' own memory.

    After ``warmup`` steps, a random x of the synapses get a different most recent
    action (moved by 1 or 2, mod 3; the shared reward history is left alone); the
    original and the perturbed copy, with identical randomness, run k steps for each
    k in ``steps``, and y is the fraction of synapses whose memory differs then.

    What holds. For k smaller than the action memory h (2 in the paper's space) the
    perturbed action is still remembered (at position k), so every perturbed synapse
    still differs: y >= x by construction, and y - x measures only how far the
    perturbation spread to others. An unperturbed synapse can differ only after the
    global reward differed: a differing remembered reward makes *every* synapse's
    state differ (y = 1 in that trial while the reward is remembered), and afterwards
    the changed actions that followed keep them apart. For k >= h the perturbed action
    has left the memory: a synapse differs only if one of its last h actions differed,
    so y_own below x (healing of the memory) is possible, while changed weights stay
    (``weights``) and can flip the reward later. Returns a :class:`DerridaMap`; y
    is averaged over ``trials`` random perturbations per fraction (drawn from ``seed``).
    """
    horizons = np.atleast_1d(np.asarray(steps, dtype=np.int64))
    if horizons.size == 0 or horizons.min() < 1:
        raise ValueError(f"steps must be positive horizons, got {steps!r}")
    last = int(horizons.max())
    make = engine_factory(scenario, policy)
    base = make()
    for _ in range(warmup):
        base.step()
    start = base.checkpoint()
    fields = base.population.fields
    n = base.simulation.topology.n_synapses
    record, rewards = [snapshot(base)], [0.0]
    for _ in range(last):
        rewards.append(base.step().reward)
        record.append(snapshot(base))
    rng = np.random.default_rng(seed)
    shape = (len(fractions), horizons.size)
    y, y_own, weights, flipped = (np.zeros(shape) for _ in range(4))
    xs = []
    for i, fraction in enumerate(fractions):
        k = max(1, round(fraction * n))
        xs.append(k / n)
        for _ in range(trials):
            sids = rng.choice(n, k, replace=False)
            shift = rng.integers(1, 3, k)
            twin = make()
            twin.restore(flip_in(start, sids, 0, shift))
            differed = False
            for t in range(1, last + 1):
                differed |= twin.step().reward != rewards[t]
                hits = np.flatnonzero(horizons == t)
                if hits.size:
                    mine = snapshot(twin)
                    y[i, hits] += np.count_nonzero(memory_differs(fields, mine, record[t], n)) / n
                    y_own[i, hits] += np.count_nonzero(own_memory_differs(fields, mine, record[t], n)) / n
                    weights[i, hits] += np.count_nonzero(mine["weights"] != record[t]["weights"]) / n
                    flipped[i, hits] += differed
    return DerridaMap(
        x=np.array(xs),
        horizons=horizons,
        y=y / trials,
        y_own=y_own / trials,
        weights=weights / trials,
        reward_flipped=flipped / trials,
        trials=trials,
        action_memory=int(start["action_history"].shape[1]),
    )


def derrida(
    scenario,
    fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4),
    warmup: int = 20,
    trials: int = 4,
    seed: int = 0,
    steps: int = 1,
    policy=None,
):
    """Derrida map for one horizon as ``(x, y)``: y = fraction of synapses whose memory differs ``steps``
    steps after a random x of them had their most recent action changed (:func:`derrida_map`, whose
    docstring says what holds).

    With the default ``steps=1`` and the paper's state space (two remembered actions)
    y >= x by construction: a perturbed action is still remembered one step later, and
    an unperturbed synapse differs only if the perturbation flipped the shared reward
    (then all of them do). y - x is therefore the share of the population that a reward
    flip reached, not damage healing or growing; use larger ``steps`` for that.
    """
    result = derrida_map(scenario, fractions, (steps,), warmup, trials, seed, policy)
    return result.x, result.y[:, 0]


def plot_damage(ax, damage: Damage, log: bool = False):
    """Fraction of synapses acting differently (and with different state / weight / weight sign) per step.

    One trajectory: for statistics over many flips use :func:`damage_statistics`. A flip's
    memory difference usually vanishes within two steps while a changed weight stays, so
    the "states differ" line alone can read as healed when it is not."""
    ax.plot(damage.steps, damage.action_fraction, label="actions differ", lw=1.2)
    ax.plot(damage.steps, damage.state_fraction, label="states differ", lw=0.9, ls="--")
    ax.plot(damage.steps, damage.sign_diff / damage.n_synapses, label="weight signs differ", lw=0.9, ls=":")
    if damage.weight_diff is not None:
        ax.plot(damage.steps, damage.weight_diff / damage.n_synapses, label="weights differ", lw=0.9, ls="-.")
    flips = damage.steps[damage.reward_diff]
    if flips.size:
        ax.plot(flips, np.zeros_like(flips, dtype=float), "|", color="k", ms=8, label="rewards differ")
    if log:
        ax.set_yscale("symlog", linthresh=1 / damage.n_synapses)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("step")
    ax.set_ylabel("fraction of synapses")
    ax.legend(fontsize="small")
    return ax


def plot_derrida(ax, x, y, steps: int = 1):
    """Derrida plot: y = fraction whose memory differs ``steps`` steps later against x = fraction perturbed,
    with the diagonal y = x (for ``steps`` below the action memory y >= x by construction)."""
    after = "one step" if steps == 1 else f"{steps} steps"
    ax.plot(x, y, "o-", label=f"after {after}")
    top = max(1e-9, float(np.max(x)), float(np.max(y)))
    ax.plot([0, top], [0, top], color="0.5", ls="--", lw=0.8, label="y = x")
    ax.set_xlabel("fraction of synapses whose last action was changed")
    ax.set_ylabel(f"fraction with different memory {after} later")
    ax.legend(fontsize="small")
    return ax


def plot_derrida_map(ax, dmap: DerridaMap, measure: str = "own"):
    """One curve per horizon k of a :class:`DerridaMap`, against x (fraction perturbed).

    ``measure``: ``"own"`` (y_own: a synapse's own remembered actions differ),
    ``"memory"`` (y: its whole memory, shared reward history included), ``"weights"``
    (its weight differs) or ``"reward"`` (fraction of trials whose reward differed by
    step k). The diagonal y = x is drawn for the synapse measures; for the memory measures
    only horizons k >= the action memory can fall below it (horizons below it are dashed).
    """
    data = {"own": dmap.y_own, "memory": dmap.y, "weights": dmap.weights, "reward": dmap.reward_flipped}
    if measure not in data:
        raise ValueError(f"measure {measure!r} is unknown; choose one of {sorted(data)}")
    for j, k in enumerate(dmap.horizons.tolist()):
        style = "o--" if k < dmap.action_memory else "o-"
        ax.plot(dmap.x, data[measure][:, j], style, ms=4, label=f"k = {k}")
    ylabel = {
        "own": "fraction whose remembered actions differ",
        "memory": "fraction whose memory differs (rewards incl.)",
        "weights": "fraction whose weight differs",
        "reward": "fraction of trials whose reward differed",
    }[measure]
    ax.set_xscale("log")
    ax.set_xlabel("x: fraction whose last action was changed")
    ax.set_ylabel(f"{ylabel}, k steps later")
    if measure == "reward":
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize="x-small")
    else:
        diagonal = np.geomspace(float(np.min(dmap.x)), float(np.max(dmap.x)), 50)
        ax.plot(diagonal, diagonal, color="0.5", ls=":", lw=0.8, label="y = x")
        ax.set_yscale("symlog", linthresh=float(np.min(dmap.x)) / 2)
        ax.set_ylim(0, 1.05)
        title = f"dashed: k < {dmap.action_memory}, y >= x by construction" if measure != "weights" else None
        ax.legend(fontsize="x-small", title=title, title_fontsize=6)
    return ax
