"""One synapse as a finite automaton: its memory is the state, the greedy policy and the reward the input;
cycles, attractors, and names for rules (a number, a base-36 name)."""

from __future__ import annotations

import itertools
import string
from collections.abc import Sequence

import networkx as nx
import numpy as np

from ...rules.synaptic_rl.features import ACTION_NAMES, LastActions, LastRewards, StateSpace
from ...rules.synaptic_rl.policy import N_ACTIONS, Policy
from .spacetime import ACTION_COLORS, REWARD_COLORS

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
    if isinstance(policy_or_greedy, Policy):
        return policy_or_greedy.greedy_rule().astype(np.int64), policy_or_greedy.state_space
    if state_space is None:
        raise ValueError("pass the state space along with a bare greedy table")
    greedy = np.asarray(policy_or_greedy, dtype=np.int64)
    if greedy.shape != (state_space.n_states,):
        raise ValueError(f"greedy table has shape {greedy.shape}, the state space needs ({state_space.n_states},)")
    return greedy, state_space


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


def automaton_step(policy_or_greedy, state: int, reward: int, state_space: StateSpace | None = None) -> int:
    """Next memory state of a synapse in ``state`` that takes its greedy action and then receives ``reward``."""
    greedy, space = _greedy(policy_or_greedy, state_space)
    actions, rewards = decode_memory(space, state)
    action = int(greedy[state])
    return encode_memory(space, (action, *actions[:-1]), (int(reward), *rewards[:-1]))


def automaton_graph(policy_or_greedy, state_space: StateSpace | None = None, rewards=(-1, 1)) -> nx.DiGraph:
    """The synapse automaton under the greedy rule: one node per memory state, one edge per reward input.

    Node attributes: ``label`` (the state in words), ``action`` (greedy action index),
    ``action_name``, ``initial`` (the memory every synapse starts with). Edge
    ``s -> s'`` for each reward r: ``reward`` = r, ``action`` = greedy action of s,
    ``label`` like ``"inc/+"``. Different rewards always lead to different states
    (the newest reward is part of the state), so a plain ``DiGraph`` holds all edges.
    Exploration is left out: this is the deterministic skeleton the policy imposes.
    """
    greedy, space = _greedy(policy_or_greedy, state_space)
    n, m = _memory_space(space)
    initial = encode_memory(space, (1,) * n, (0,) * m)
    g = nx.DiGraph(n_actions_memory=n, n_rewards_memory=m, state_space=space.spec())
    for s in range(space.n_states):
        a = int(greedy[s])
        g.add_node(s, label=space.describe(s), action=a, action_name=ACTION_NAMES[a], initial=s == initial)
    for s in range(space.n_states):
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


def reward_subgraph(graph: nx.DiGraph, reward: int) -> nx.DiGraph:
    """The automaton under a constant reward: every node keeps exactly one outgoing edge."""
    edges = [(u, v) for u, v, r in graph.edges(data="reward") if r == reward]
    sub = nx.DiGraph()
    sub.add_nodes_from(graph.nodes(data=True))
    sub.add_edges_from((u, v, graph.edges[u, v]) for u, v in edges)
    return sub


def _canonical_cycle(cycle) -> tuple[int, ...]:
    cycle = list(cycle)
    k = cycle.index(min(cycle))
    return tuple(cycle[k:] + cycle[:k])


def automaton_cycles(graph: nx.DiGraph, reward: int | None = None, length_bound: int | None = None) -> list:
    """Cycles of the automaton (each a tuple of states, smallest state first), sorted.

    With ``reward`` the graph is the constant-reward one, where each node has one
    successor and cycles are few. Without it, both rewards are possible and the
    number of cycles grows fast: give ``length_bound``.
    """
    g = graph if reward is None else reward_subgraph(graph, reward)
    if reward is None and length_bound is None:
        raise ValueError("the full automaton has very many cycles; pass reward=-1/+1 or a length_bound")
    return sorted(_canonical_cycle(c) for c in nx.simple_cycles(g, length_bound=length_bound))


def attractors(graph: nx.DiGraph, reward: int | None = None) -> list[tuple[int, ...]]:
    """Terminal strongly connected components: sets of states the automaton can enter but never leave.

    With ``reward`` (constant reward input) each attractor is a cycle, returned in
    cycle order starting at its smallest state (a fixed point is a 1-tuple). Without
    it, both rewards are allowed and each attractor is returned as a sorted tuple.
    """
    g = graph if reward is None else reward_subgraph(graph, reward)
    found = []
    condensed = nx.condensation(g)
    for c in condensed.nodes:
        if condensed.out_degree(c) == 0:
            members = condensed.nodes[c]["members"]
            if reward is None:
                found.append(tuple(sorted(members)))
            else:
                found.append(_cycle_order(g, members))
    return sorted(found)


def _cycle_order(g: nx.DiGraph, members) -> tuple[int, ...]:
    start = min(members)
    order = [start]
    node = next(iter(g.successors(start)))
    while node != start:
        order.append(node)
        node = next(iter(g.successors(node)))
    return tuple(order)


def attractors_under(policy_or_greedy, rewards: Sequence[int], state_space: StateSpace | None = None) -> list:
    """Attractors when the reward input repeats the sequence ``rewards`` periodically.

    Each attractor is returned as the tuple of states visited over whole periods until
    the orbit closes, starting at the phase-0 state with the smallest index; the state
    at position i is the memory before the greedy action of phase ``i % len(rewards)``.
    """
    greedy, space = _greedy(policy_or_greedy, state_space)
    period = len(rewards)
    if period == 0:
        raise ValueError("the reward sequence is empty")
    product = nx.DiGraph()
    for s, phase in itertools.product(range(space.n_states), range(period)):
        nxt = automaton_step(greedy, s, rewards[phase], space)
        product.add_edge((s, phase), (nxt, (phase + 1) % period))
    found = set()
    condensed = nx.condensation(product)
    for c in condensed.nodes:
        if condensed.out_degree(c) == 0:
            members = condensed.nodes[c]["members"]
            start = min(m for m in members if m[1] == 0)
            orbit, node = [start[0]], next(iter(product.successors(start)))
            while node != start:
                orbit.append(node[0])
                node = next(iter(product.successors(node)))
            found.add(tuple(orbit))
    return sorted(found)


def run_automaton(policy_or_greedy, rewards: Sequence[int], start=None, state_space=None) -> list[int]:
    """States visited from ``start`` (default: the initial memory) when fed ``rewards`` one per step."""
    greedy, space = _greedy(policy_or_greedy, state_space)
    n, m = _memory_space(space)
    state = encode_memory(space, (1,) * n, (0,) * m) if start is None else int(start)
    visited = [state]
    for r in rewards:
        state = automaton_step(greedy, state, r, space)
        visited.append(state)
    return visited


def draw_automaton(ax, graph: nx.DiGraph, reward: int | None = None, labels: str = "index", pos=None):
    """Draw the automaton (or its constant-``reward`` subgraph) on ``ax``.

    Nodes are coloured by greedy action, edges by reward (green +, red -); attractor
    states get a black ring. ``labels`` is ``"index"``, ``"words"`` or ``"none"``.
    Returns the node positions, so several panels can share one layout.
    """
    g = graph if reward is None else reward_subgraph(graph, reward)
    if pos is None:
        pos = nx.kamada_kawai_layout(nx.Graph(graph)) if graph.number_of_nodes() > 1 else {n: (0, 0) for n in graph}
    in_attractor = {s for att in attractors(graph, reward) for s in att} if reward is not None else set()
    nodes = list(g.nodes)
    nx.draw_networkx_nodes(
        g,
        pos,
        ax=ax,
        nodelist=nodes,
        node_color=[ACTION_COLORS[g.nodes[s]["action"]] for s in nodes],
        edgecolors=["k" if s in in_attractor else "0.6" for s in nodes],
        linewidths=[2.0 if s in in_attractor else 0.5 for s in nodes],
        node_size=180,
    )
    for r in (-1, 1):
        edges = [(u, v) for u, v, rr in g.edges(data="reward") if rr == r]
        nx.draw_networkx_edges(
            g, pos, ax=ax, edgelist=edges, edge_color=REWARD_COLORS[r], arrows=True, arrowsize=8, width=0.7
        )
    if labels != "none":
        text = {s: (g.nodes[s]["label"] if labels == "words" else str(s)) for s in nodes}
        nx.draw_networkx_labels(g, pos, labels=text, ax=ax, font_size=6)
    ax.set_axis_off()
    ax.set_title("synapse automaton" + ("" if reward is None else f" (reward {'+' if reward > 0 else '-'}1)"))
    return pos


# --- rule names --------------------------------------------------------------------------

_DIGITS = string.digits + string.ascii_lowercase


def rule_number(policy_or_greedy) -> int:
    """The greedy table as one integer, like a CA rule number: ``sum_s greedy[s] * 3**s``.

    State 0's action is the least significant base-3 digit (Wolfram's convention).
    """
    greedy = policy_or_greedy.greedy_rule() if isinstance(policy_or_greedy, Policy) else policy_or_greedy
    number = 0
    for a in reversed(np.asarray(greedy, dtype=np.int64).tolist()):
        if not 0 <= a < N_ACTIONS:
            raise ValueError(f"greedy actions must be 0, 1 or 2, got {a}")
        number = number * N_ACTIONS + a
    return number


def greedy_from_number(number: int, n_states: int) -> np.ndarray:
    """Inverse of :func:`rule_number` for a state space of ``n_states`` states."""
    number = int(number)
    if number < 0 or number >= N_ACTIONS**n_states:
        raise ValueError(f"rule number {number} is out of range for {n_states} states")
    digits = []
    for _ in range(n_states):
        number, a = divmod(number, N_ACTIONS)
        digits.append(a)
    return np.array(digits, dtype=np.int8)


def rule_name(policy_or_greedy) -> str:
    """A short citable name for a greedy rule: ``"s<n_states>-<rule number in base 36>"``.

    The state count is part of the name because a rule number alone does not say
    how many leading "decrement" digits it has. The 81-state paper rules need at most
    25 base-36 characters.
    """
    greedy = policy_or_greedy.greedy_rule() if isinstance(policy_or_greedy, Policy) else np.asarray(policy_or_greedy)
    number = rule_number(greedy)
    text = ""
    while True:
        number, d = divmod(number, 36)
        text = _DIGITS[d] + text
        if number == 0:
            break
    return f"s{len(greedy)}-{text}"


def greedy_from_name(name: str) -> np.ndarray:
    """Inverse of :func:`rule_name`: the greedy table (action per state)."""
    try:
        head, body = name.strip().lower().split("-")
        if not head.startswith("s"):
            raise ValueError
        n_states = int(head[1:])
        number = int(body, 36)
    except ValueError:
        raise ValueError(f"{name!r} is not a rule name like 's81-2k9x...' (see rule_name)") from None
    return greedy_from_number(number, n_states)


def policy_from_rule(rule, state_space: StateSpace, **kwargs) -> Policy:
    """A frozen policy whose greedy rule is ``rule`` (a name or a greedy table): Q = 1 at the chosen action."""
    greedy = greedy_from_name(rule) if isinstance(rule, str) else np.asarray(rule, dtype=np.int64)
    if greedy.shape != (state_space.n_states,):
        raise ValueError(
            f"rule has {greedy.size} states, the state space {state_space.spec()} has {state_space.n_states}"
        )
    q = np.zeros((state_space.n_states, N_ACTIONS))
    q[np.arange(state_space.n_states), greedy] = 1.0
    return Policy(state_space, q=q, **{"adaptive": False, **kwargs})
