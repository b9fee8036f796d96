"""Damage spreading and Derrida plots: how a small difference in memory or reward travels through the population."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

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
    )


def derrida(scenario, fractions=(0.01, 0.02, 0.05, 0.1, 0.2, 0.4), warmup: int = 20, trials: int = 4, seed: int = 0):
    """Derrida map: state-difference fraction after one step versus the fraction perturbed.

    For each initial fraction x, a random x of the synapses get a different most
    recent action; after one step, y is the fraction whose memory state differs.
    What it measures: y >= x by construction (a perturbed synapse's changed action
    moves one place down its remembered history, so its state still differs after
    one step), and an unperturbed synapse can differ only when the perturbation
    flipped the shared reward. y - x is therefore the share of the population that a
    reward flip reaches, not damage healing or growing; a multi-step map is needed for
    that. Returns ``(x, y)`` with y averaged over ``trials``.
    """
    from ...engine.vector import VectorEngine

    base = VectorEngine(scenario)
    for _ in range(warmup):
        base.step()
    snapshot = base.checkpoint()
    n = base.simulation.topology.n_synapses
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for fraction in fractions:
        k = max(1, round(fraction * n))
        results = []
        for _ in range(trials):
            sids = rng.choice(n, k, replace=False)
            shift = rng.integers(1, 3, k)

            def perturb(state, sids=sids, shift=shift):
                state["action_history"][sids, 0] = (state["action_history"][sids, 0] + shift) % 3

            a = VectorEngine(scenario)
            a.restore(snapshot)
            b = VectorEngine(scenario)
            state = {key: np.array(v, copy=True) for key, v in snapshot.items()}
            perturb(state)
            b.restore(state)
            a.step()
            b.step()
            results.append(np.count_nonzero(a.population.state["state"] != b.population.state["state"]) / n)
        xs.append(k / n)
        ys.append(float(np.mean(results)))
    return np.array(xs), np.array(ys)


def plot_damage(ax, damage: Damage, log: bool = False):
    """Fraction of synapses acting differently (and with different state / weight sign) per step."""
    ax.plot(damage.steps, damage.action_fraction, label="actions differ", lw=1.2)
    ax.plot(damage.steps, damage.state_fraction, label="states differ", lw=0.9, ls="--")
    ax.plot(damage.steps, damage.sign_diff / damage.n_synapses, label="weight signs differ", lw=0.9, ls=":")
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


def plot_derrida(ax, x, y):
    """Derrida plot: y = damage after one step against x = initial damage, with the diagonal y = x."""
    ax.plot(x, y, "o-", label="after one step")
    top = max(1e-9, float(np.max(x)), float(np.max(y)))
    ax.plot([0, top], [0, top], color="0.5", ls="--", lw=0.8, label="y = x")
    ax.set_xlabel("initial fraction of perturbed synapses")
    ax.set_ylabel("fraction with different state one step later")
    ax.legend(fontsize="small")
    return ax
