"""One synapse as a finite automaton: its memory is the state, the greedy policy and the reward the input;
which states a synapse can reach and which the policy ever visited, cycles and attractors (:mod:`.attractors`).

A Q table learned from one run has rows the run never touched: states no synapse can
reach from the initial memory ("keep, ..., keep | 0, ..., 0"), and reachable states
it never happened to visit. Their rows stay all zero, and the tie rule (lowest action
index) would paint them "decrement". :func:`reachable_states`, :func:`visited_states`
and :func:`tied_states` tell these rows apart, :func:`automaton_graph` records them as
node attributes and :func:`draw_automaton` draws them hollow (unvisited) or gold (tie)
instead of in an action colour.
"""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np

from ...rules.synaptic_rl.features import ACTION_NAMES, LastActions, LastRewards
from ...rules.synaptic_rl.policy import N_ACTIONS, Policy
from ...rules.synaptic_rl.state_space import StateSpace

__all__ = [
    "TIE_COLOR",
    "UNVISITED_COLOR",
    "automaton_graph",
    "automaton_step",
    "decode_memory",
    "encode_memory",
    "initial_state",
    "maximal_actions",
    "reachable_states",
    "tied_states",
    "visited_mask",
    "visited_states",
]

TIE_COLOR = "#e6ab02"  # a visited row whose maximum is shared by several actions
UNVISITED_COLOR = "white"  # a row the policy never updated (all zeros): drawn hollow

# --- the synapse automaton ---------------------------------------------------------------


def _memory_space(state_space: StateSpace) -> tuple[int, int]:
    features = state_space.features
    if len(features) != 2 or type(features[0]) is not LastActions or type(features[1]) is not LastRewards:
        raise ValueError(
            "the synapse automaton needs the paper's state space [last_actions(n), last_rewards(m)]; "
            f"got {state_space.spec()} (other features depend on the network, not on the memory alone)"
        )
    return features[0].n, features[1].n


def _greedy(policy_or_greedy, state_space: StateSpace | None) -> tuple[np.ndarray, StateSpace]:
    """The greedy table and state space of a Policy, a Q table ``(n_states, 3)`` or a greedy table ``(n_states,)``."""
    if isinstance(policy_or_greedy, Policy):
        return policy_or_greedy.greedy_rule().astype(np.int64), policy_or_greedy.state_space
    if state_space is None:
        raise ValueError("pass the state space along with a bare greedy table")
    greedy = np.asarray(policy_or_greedy)
    if greedy.shape == (state_space.n_states, N_ACTIONS):
        greedy = np.argmax(greedy, axis=1)
    greedy = greedy.astype(np.int64)
    if greedy.shape != (state_space.n_states,):
        raise ValueError(f"greedy table has shape {greedy.shape}, the state space needs ({state_space.n_states},)")
    return greedy, state_space


def _q_table(policy_or_q, state_space: StateSpace | None = None) -> np.ndarray | None:
    """The Q table of a Policy or of a ``(n_states, 3)`` array; None for a bare greedy table."""
    if isinstance(policy_or_q, Policy):
        return policy_or_q.q
    q = np.asarray(policy_or_q)
    return q if q.ndim == 2 and q.shape[1] == N_ACTIONS else None


def decode_memory(state_space: StateSpace, state: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(actions, rewards)`` of a paper state index, most recent first; rewards in {-1, 0, +1}."""
    n, m = _memory_space(state_space)
    a_code, r_code = state_space.digits(state)
    actions = tuple((a_code // 3 ** (n - 1 - k)) % 3 for k in range(n))
    rewards = tuple((r_code // 3 ** (m - 1 - k)) % 3 - 1 for k in range(m))
    return actions, rewards


def encode_memory(state_space: StateSpace, actions, rewards) -> int:
    """Inverse of :func:`decode_memory`."""
    _memory_space(state_space)
    a_code = r_code = 0
    for a in actions:
        a_code = a_code * 3 + int(a)
    for r in rewards:
        r_code = r_code * 3 + int(r) + 1
    return a_code * state_space.cardinalities[1] + r_code


def initial_state(state_space: StateSpace) -> int:
    """The memory every synapse starts with: all actions "keep", all rewards 0 ("no reward yet")."""
    n, m = _memory_space(state_space)
    return encode_memory(state_space, (1,) * n, (0,) * m)


def reachable_states(state_space, explore: bool = True, policy=None, rewards=(-1, 1)) -> np.ndarray:
    """States a synapse can reach from :func:`initial_state`, sorted (breadth-first search).

    One step: the synapse takes an action, then the global reward ``r`` in ``rewards``
    arrives. ``explore=True`` allows every action (exploration can pick any), so the
    result depends on the state space alone: for the paper's space (2 actions, 2
    rewards) 1 + 6 + 36 = 43 of the 81 states, since a reward of 0 only exists before
    the first step. ``explore=False`` follows only the greedy action of ``policy``
    (a Policy, a Q table or a greedy table); ``state_space`` may be the Policy itself.
    """
    if isinstance(state_space, Policy):
        policy, state_space = (policy if policy is not None else state_space), state_space.state_space
    if explore:
        greedy = None
    elif policy is None:
        raise ValueError("explore=False follows the greedy actions of a policy: pass policy=...")
    else:
        greedy, _ = _greedy(policy, state_space)
    start = initial_state(state_space)
    seen, frontier = {start}, [start]
    while frontier:
        state = frontier.pop()
        past_actions, past_rewards = decode_memory(state_space, state)
        choices = range(N_ACTIONS) if greedy is None else (int(greedy[state]),)
        for action, reward in itertools.product(choices, rewards):
            nxt = encode_memory(state_space, (action, *past_actions[:-1]), (int(reward), *past_rewards[:-1]))
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return np.array(sorted(seen), dtype=np.int64)


def maximal_actions(policy_or_q) -> np.ndarray:
    """Boolean ``(n_states, 3)``: the actions that reach their row's maximum (several = a tie)."""
    q = _q_table(policy_or_q)
    if q is None:
        raise ValueError("maximal actions need a Q table (a Policy or an (n_states, 3) array), not a greedy table")
    return q == q.max(axis=1, keepdims=True)


def visited_mask(policy_or_q, counts=None) -> np.ndarray:
    """Boolean per state: did learning ever touch this row?

    With ``counts`` (visits per state, e.g. summed occupancy of a run) a state is
    visited when its count is positive; otherwise when its Q row is not all zeros
    (every update moves a row away from zero, so a zero row was never updated).
    """
    if counts is not None:
        return np.asarray(counts) > 0
    q = _q_table(policy_or_q)
    if q is None:
        raise ValueError("a greedy table says nothing about visits: pass a Policy, a Q table or counts")
    return np.any(q != 0, axis=1)


def visited_states(policy, counts=None) -> np.ndarray:
    """Reachable states (exploration allowed) whose rows were visited (:func:`visited_mask`), sorted."""
    space = policy.state_space if isinstance(policy, Policy) else None
    if space is None:
        raise ValueError("visited_states needs a Policy (its state space decides which states are reachable)")
    reachable = reachable_states(space)
    return reachable[visited_mask(policy, counts)[reachable]]


def tied_states(policy_or_q, counts=None) -> np.ndarray:
    """Boolean per state: a visited row whose maximum is shared by several actions.

    The greedy choice there is the tie rule's (lowest index), not the policy's. An
    unvisited (all-zero) row is reported by :func:`visited_mask`, not as a tie.
    """
    return visited_mask(policy_or_q, counts) & (maximal_actions(policy_or_q).sum(axis=1) > 1)


def automaton_step(policy_or_greedy, state: int, reward: int, state_space: StateSpace | None = None) -> int:
    """Next memory state of a synapse in ``state`` that takes its greedy action and then receives ``reward``."""
    greedy, space = _greedy(policy_or_greedy, state_space)
    actions, rewards = decode_memory(space, state)
    action = int(greedy[state])
    return encode_memory(space, (action, *actions[:-1]), (int(reward), *rewards[:-1]))


def automaton_graph(
    policy_or_greedy,
    state_space: StateSpace | None = None,
    rewards=(-1, 1),
    reachable_only: bool = False,
    visited=None,
) -> nx.DiGraph:
    """The synapse automaton under the greedy rule: one node per memory state, one edge per reward input.

    Node attributes: ``label`` (the state in words), ``action`` (greedy action index,
    what the simulation does there), ``action_name``, ``initial`` (the memory every
    synapse starts with), ``reachable`` (:func:`reachable_states`), ``visited`` (the
    row was ever updated: :func:`visited_mask`; always true for a bare greedy table),
    ``tie`` (a visited row with several maximal actions), ``tied_actions`` (those
    actions, else ``()``) and ``kind``: ``"unvisited"``, ``"tie"`` or ``"action"``.
    ``visited`` overrides the visit test with counts or a mask per state.
    ``reachable_only=True`` keeps only the reachable states (they are closed under
    every action and reward, so no edge leaves them). Edge ``s -> s'`` for each reward
    r: ``reward`` = r, ``action`` = greedy action of s, ``label`` like ``"inc/+"``.
    Different rewards always lead to different states (the newest reward is part of
    the state), so a plain ``DiGraph`` holds all edges. Exploration is left out: this
    is the deterministic skeleton the policy imposes.
    """
    greedy, space = _greedy(policy_or_greedy, state_space)
    n, m = _memory_space(space)
    q = _q_table(policy_or_greedy)
    if visited is not None:
        seen = visited_mask(None, visited)
    else:
        seen = visited_mask(q) if q is not None else np.ones(space.n_states, dtype=bool)
    maximal = maximal_actions(q) if q is not None else np.eye(N_ACTIONS, dtype=bool)[greedy]
    reachable = np.zeros(space.n_states, dtype=bool)
    reachable[reachable_states(space)] = True
    states = np.flatnonzero(reachable) if reachable_only else np.arange(space.n_states)
    initial = initial_state(space)
    g = nx.DiGraph(n_actions_memory=n, n_rewards_memory=m, state_space=space.spec())
    g.graph.update(n_reachable=int(reachable.sum()), n_visited=int((seen & reachable).sum()))
    for s in states.tolist():
        a = int(greedy[s])
        tie = bool(seen[s] and maximal[s].sum() > 1)
        g.add_node(
            s,
            label=space.describe(s),
            action=a,
            action_name=ACTION_NAMES[a],
            initial=s == initial,
            reachable=bool(reachable[s]),
            visited=bool(seen[s]),
            tie=tie,
            tied_actions=tuple(np.flatnonzero(maximal[s]).tolist()) if tie else (),
            kind="unvisited" if not seen[s] else "tie" if tie else "action",
        )
    for s in states.tolist():
        a = int(greedy[s])
        for r in rewards:
            g.add_edge(
                s,
                automaton_step(greedy, s, r, space),
                reward=int(r),
                action=a,
                label=f"{ACTION_NAMES[a]}/{'+' if r > 0 else '-'}",
            )
    return g
