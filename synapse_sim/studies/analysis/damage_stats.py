"""Damage statistics: many single-synapse memory flips, each run as a twin of one base run.

One trajectory per damage figure is an anecdote; this runs ``n_perturbations`` twins
(identical randomness, one synapse's remembered action changed after the warm-up) and
classifies what each flip did. Memory and weights are tracked separately, since a flip
usually leaves the memory within two steps but leaves a weight moved for good.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._twins import engine_factory, flip_in, identical, memory_differs, snapshot

__all__ = ["OUTCOMES", "DamageStatistics", "damage_statistics", "plot_damage_statistics"]

OUTCOMES = ("heal", "latent", "spread")


@dataclass
class DamageStatistics:
    """The fate of ``n`` single-synapse memory flips (rows), per step after the flip (columns, 0 = right after).

    ``memory_diff``: synapses whose memory (remembered actions, rewards, state) differs
    from the base run; ``weight_diff``: synapses whose weight differs;
    ``weight_distance``: L2 norm of the weight difference. ``first_flip``: the first
    step whose global reward differs (-1: never within ``steps``); ``healed_at``: the
    step from which the twin is identical to the base run (-1: never). ``outcome``:
    ``"heal"`` (memory, weights and shared state equal again by the last step),
    ``"latent"`` (not healed, the reward never differed: a weight or memory difference
    is waiting), ``"spread"`` (not healed and the reward differed: the flip reached every
    synapse through the broadcast). ``sid``, ``position``, ``shift``: the flips; ``start``: the
    base-run step each flip was applied after.
    """

    steps: np.ndarray
    memory_diff: np.ndarray
    weight_diff: np.ndarray
    weight_distance: np.ndarray
    first_flip: np.ndarray
    healed_at: np.ndarray
    outcome: np.ndarray
    sid: np.ndarray
    position: np.ndarray
    shift: np.ndarray
    start: np.ndarray
    n_synapses: int
    seed: int

    @property
    def n(self) -> int:
        return int(self.outcome.size)

    @property
    def fractions(self) -> dict[str, float]:
        """Share of the flips in each outcome (they sum to 1)."""
        return {o: float(np.mean(self.outcome == o)) for o in OUTCOMES}

    @property
    def time_to_flip(self) -> np.ndarray:
        """Steps from the flip to the first differing reward, for the flips whose reward ever differed."""
        return self.first_flip[self.first_flip >= 0]

    @property
    def median_time_to_flip(self) -> float | None:
        times = self.time_to_flip
        return float(np.median(times)) if times.size else None

    def curve(self, what: str = "memory", stat: str = "mean", q: float = 0.5) -> np.ndarray:
        """A summary over flips per step: ``what`` in memory / weights (fractions of synapses) / distance;
        ``stat`` mean or quantile (``q``)."""
        data = {
            "memory": self.memory_diff / self.n_synapses,
            "weights": self.weight_diff / self.n_synapses,
            "distance": self.weight_distance,
        }[what]
        return data.mean(axis=0) if stat == "mean" else np.quantile(data, q, axis=0)


def damage_statistics(
    scenario,
    n_perturbations: int = 100,
    steps: int = 200,
    warmup: int | Sequence[int] = 200,
    seed: int = 0,
    policy=None,
    flips=None,
) -> DamageStatistics:
    """Run ``n_perturbations`` twins of one base run, each with one synapse's remembered action changed.

    After ``warmup`` steps of the base run, each twin starts from the base's state
    with synapse ``sid``'s remembered action at ``position`` (0 = most recent) moved by
    ``shift`` (1 or 2, mod 3); sid, position and shift are drawn from ``seed``
    (independent of the scenario's own seed, which both copies share, so their
    randomness is identical). Both copies run ``steps`` steps; a twin that becomes
    identical to the base run stops early (it would stay identical).

    When a flip changes the reward depends on the base run: at steps where the loss
    barely moves, any small weight difference flips its sign, so the times to a reward
    flip cluster at the base run's fragile steps. A sequence ``warmup`` (e.g.
    ``range(200, 1200, 100)``) spreads the flips over several start steps of the same
    base run (flip i starts at ``warmup[i % len(warmup)]``), which samples more of them.
    With an adaptive policy the shared Q table is part of what must match: the flipped
    synapse reports a different transition at once, so the twins' tables differ and a
    flip practically never heals; use a static policy to study the population alone.
    ``flips`` (a sequence of ``(sid, position, shift)``) replaces the random draws.
    ``policy`` replaces the scenario's (see :func:`engine_factory`). Cost: the base run
    plus, per flip, ``steps`` steps unless it heals first.
    """
    starts = sorted({int(w) for w in np.atleast_1d(warmup)})
    if not starts or starts[0] < 0 or steps < 0:
        raise ValueError(f"warmup must be one or more steps >= 0 and steps >= 0, got {warmup!r} and {steps}")
    make = engine_factory(scenario, policy)
    base = make()
    for _ in range(starts[0]):
        base.step()
    checkpoints = {starts[0]: base.checkpoint()}
    record, rewards = {starts[0]: snapshot(base)}, {}
    for t in range(starts[0] + 1, starts[-1] + steps + 1):
        rewards[t] = base.step().reward
        record[t] = snapshot(base)
        if t in starts:
            checkpoints[t] = base.checkpoint()
    fields = base.population.fields
    n = base.simulation.topology.n_synapses
    history = checkpoints[starts[0]]["action_history"].shape[1]
    if flips is None:
        rng = np.random.default_rng(seed)
        sids = rng.integers(0, n, n_perturbations)
        positions = rng.integers(0, history, n_perturbations)
        shifts = rng.integers(1, 3, n_perturbations)
    else:
        sids, positions, shifts = (np.asarray(c, dtype=np.int64) for c in zip(*flips, strict=True))
        n_perturbations = sids.size
        if sids.min() < 0 or sids.max() >= n or positions.min() < 0 or positions.max() >= history:
            raise ValueError(f"flips need 0 <= sid < {n} and 0 <= position < {history}")
    begin = np.array([starts[i % len(starts)] for i in range(n_perturbations)], dtype=np.int64)
    shape = (n_perturbations, steps + 1)
    memory_diff, weight_diff = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
    distance = np.zeros(shape)
    first_flip = np.full(n_perturbations, -1)
    healed_at = np.full(n_perturbations, -1)
    for i in range(n_perturbations):
        twin = make()
        twin.restore(flip_in(checkpoints[begin[i]], sids[i], positions[i], shifts[i]))
        for t in range(steps + 1):
            now = begin[i] + t
            if t:
                reward = twin.step().reward
                if first_flip[i] < 0 and reward != rewards[now]:
                    first_flip[i] = t
            mine = snapshot(twin)
            if identical(mine, record[now]):
                healed_at[i] = t
                break
            memory_diff[i, t] = np.count_nonzero(memory_differs(fields, mine, record[now], n))
            dw = mine["weights"].astype(np.float64) - record[now]["weights"]
            weight_diff[i, t] = np.count_nonzero(dw)
            distance[i, t] = float(np.sqrt(np.dot(dw, dw)))
    outcome = np.where(healed_at >= 0, "heal", np.where(first_flip >= 0, "spread", "latent"))
    return DamageStatistics(
        steps=np.arange(steps + 1),
        memory_diff=memory_diff,
        weight_diff=weight_diff,
        weight_distance=distance,
        first_flip=first_flip,
        healed_at=healed_at,
        outcome=outcome,
        sid=sids,
        position=positions,
        shift=shifts,
        start=begin,
        n_synapses=n,
        seed=seed,
    )


def plot_damage_statistics(axes, stats: DamageStatistics, band=(0.1, 0.9), log: bool = True):
    """Memory vs weight divergence over the flips, and the time to the first differing reward.

    ``axes``: two Axes (divergence, histogram) or three (a third for the L2 weight
    distance). Divergence: number of synapses whose memory / weight differs from the
    base run, median (solid), mean (dashed) and the ``band`` quantiles (shaded) over all
    flips; ``log`` uses a symmetric log scale (linear below one synapse). Histogram:
    steps until the reward first differed, for the flips where it did.
    """
    axes = list(axes)
    t = stats.steps
    colors = {"memory": "tab:purple", "weights": "tab:orange", "distance": "tab:green"}
    labels = {"memory": "memory differs", "weights": "weight differs", "distance": "L2 weight distance"}
    panels = [(axes[0], ("memory", "weights"))] + ([(axes[2], ("distance",))] if len(axes) > 2 else [])
    for ax, whats in panels:
        top = 0.0
        for what in whats:
            scale = 1.0 if what == "distance" else stats.n_synapses  # counts of synapses, not fractions
            low, high = stats.curve(what, "q", band[0]) * scale, stats.curve(what, "q", band[1]) * scale
            mean = stats.curve(what) * scale
            ax.fill_between(t, low, high, color=colors[what], alpha=0.2, lw=0)
            ax.plot(
                t, stats.curve(what, "q", 0.5) * scale, color=colors[what], lw=1.4, label=f"{labels[what]} (median)"
            )
            ax.plot(t, mean, color=colors[what], lw=0.9, ls="--", label=f"{labels[what]} (mean)")
            top = max(top, float(high.max(initial=0)), float(mean.max(initial=0)))
        ax.set_xlabel("steps after the flip")
        if log:
            ax.set_yscale("symlog", linthresh=1.0 if whats != ("distance",) else 1e-3)
        ax.set_ylim(0, max(top, 1.0 if whats != ("distance",) else 1e-3) * (3 if log else 1.1))
        ax.legend(fontsize="x-small")
    axes[0].set_ylabel(f"synapses that differ (of {stats.n_synapses})")
    axes[0].set_title(f"{stats.n} single-synapse flips; shaded: {band[0]:.0%}-{band[1]:.0%} quantiles", fontsize=9)
    if len(axes) > 2:
        axes[2].set_ylabel("||w_twin - w_base||")
    ax = axes[1]
    times = stats.time_to_flip
    if times.size:
        ax.hist(times, bins=min(30, max(5, int(np.sqrt(times.size)) * 2)), color="0.4")
        ax.axvline(float(np.median(times)), color="k", ls="--", lw=1, label=f"median {np.median(times):.0f}")
        ax.legend(fontsize="x-small")
    else:
        ax.text(0.5, 0.5, f"no reward differed\nwithin {t[-1]} steps", ha="center", va="center", transform=ax.transAxes)
    f = stats.fractions
    ax.set_title(
        f"heal {f['heal']:.0%}, latent {f['latent']:.0%}, spread {f['spread']:.0%} (n = {stats.n})", fontsize=9
    )
    ax.set_xlabel("steps until the reward first differs")
    ax.set_ylabel("flips")
    return axes
