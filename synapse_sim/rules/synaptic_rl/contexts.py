"""What a state feature reads: one synapse's context (the agent view) or all synapses' (the vectorised backend).

The rule builds both from its own context (:class:`synapse_sim.rules.RuleContext`) and the
network's topology, so the engines pass only the sid and the rule's memory: a field the rule
adds to its memory reaches every feature through ``memory`` with no engine edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ..base import RuleContext


@dataclass(frozen=True)
class SynapseContext:
    """What one synapse knows when it chooses: its own memory, its place and the broadcast.

    ``action_history[0]`` is the most recent action (0 = decrement, 1 = keep,
    2 = increment); ``reward_history[0]`` the most recent global reward
    (-1, +1, or 0 for "no reward yet"). ``streak`` counts how many times in a
    row the last action was taken. ``pre_activity`` / ``post_activity`` are the
    mean activations of the source and target neuron over the last evaluated
    minibatch (None unless the state space asks for them). ``layer`` is the
    synapse's weight layer, ``pre`` / ``post`` its source neuron's index in layer
    ``layer`` (the bias unit: that layer's size) and its target's in ``layer + 1``;
    ``explored`` whether its last action was an exploration draw. ``memory`` holds
    every field the rule keeps for the synapse (a field the rule adds later shows
    up here with no other change).
    """

    sid: int
    action_history: tuple[int, ...]
    reward_history: tuple[int, ...]
    weight: float
    is_bias: bool
    streak: int = 0
    pre_activity: float | None = None
    post_activity: float | None = None
    layer: int = 0
    pre: int = 0
    post: int = 0
    explored: bool = False
    memory: Mapping = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class PopulationContext:
    """The same information for all synapses at once, as arrays in sid order.

    ``action_history`` has shape ``(n_synapses, history)``; ``reward_history``
    shape ``(history,)`` since the reward is global.
    """

    action_history: np.ndarray
    reward_history: np.ndarray
    weight: np.ndarray
    is_bias: np.ndarray
    streak: np.ndarray | None = None
    pre_activity: np.ndarray | None = None
    post_activity: np.ndarray | None = None
    layer: np.ndarray | None = None
    pre: np.ndarray | None = None
    post: np.ndarray | None = None
    explored: np.ndarray | None = None
    memory: Mapping = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_synapses(self) -> int:
        return self.action_history.shape[0]


def synapse_context(ctx: RuleContext, topology) -> SynapseContext:
    """The features' view of one synapse (:class:`SynapseContext`) from the rule's local context;
    its place in the network comes from ``topology`` (the engines pass only the sid)."""
    m = ctx.memory
    sid = int(ctx.sid)
    return SynapseContext(
        sid=sid,
        action_history=tuple(map(int, m["action_history"])),
        reward_history=tuple(map(int, m["reward_history"])),
        weight=float(ctx.weight),
        is_bias=bool(ctx.is_bias),
        streak=int(m["streak"]),
        pre_activity=None if ctx.pre_activity is None else float(ctx.pre_activity),
        post_activity=None if ctx.post_activity is None else float(ctx.post_activity),
        layer=int(topology.layer[sid]),
        pre=int(topology.row[sid]),
        post=int(topology.col[sid]),
        explored=bool(m.get("explored", False)),
        memory=m,
    )


def _layout(topology, sid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = topology.n_synapses
    if len(sid) == n and (n == 0 or (sid[0] == 0 and sid[-1] == n - 1)):
        return topology.layer, topology.row, topology.col
    return topology.layer[sid], topology.row[sid], topology.col[sid]


def feature_context(ctx: RuleContext, topology) -> PopulationContext:
    """The features' view of all synapses (:class:`PopulationContext`) from the rule's batch context."""
    m = ctx.memory
    layer, pre, post = _layout(topology, np.asarray(ctx.sid))
    return PopulationContext(
        action_history=m["action_history"],
        reward_history=m["reward_history"],
        weight=ctx.weight,
        is_bias=ctx.is_bias,
        streak=m["streak"],
        pre_activity=ctx.pre_activity,
        post_activity=ctx.post_activity,
        layer=layer,
        pre=pre,
        post=post,
        explored=m.get("explored"),
        memory=m,
    )
