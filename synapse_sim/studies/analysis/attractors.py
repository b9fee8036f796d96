"""Cycles and attractors of one synapse's automaton (:mod:`.automaton`): under one reward, and under a
periodic reward sequence, where the attractors are those of the product of states and phases; the
automaton drawn with its attractors ringed."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import networkx as nx

from ...rules.synaptic_rl.features import ACTION_NAMES
from ...rules.synaptic_rl.policy import N_ACTIONS
from ...rules.synaptic_rl.state_space import StateSpace
from .automaton import TIE_COLOR, UNVISITED_COLOR, _greedy, _memory_space, automaton_step, encode_memory
from .spacetime import ACTION_COLORS, REWARD_COLORS

__all__ = ["attractors", "attractors_under", "automaton_cycles", "draw_automaton", "reward_subgraph", "run_automaton"]


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


def _node_face(node: dict) -> str:
    return {"unvisited": UNVISITED_COLOR, "tie": TIE_COLOR}.get(node.get("kind"), ACTION_COLORS[node["action"]])


def draw_automaton(ax, graph: nx.DiGraph, reward: int | None = None, labels: str = "index", pos=None, legend=False):
    """Draw the automaton (or its constant-``reward`` subgraph) on ``ax``.

    Nodes are coloured by greedy action (red dec, light grey keep, blue inc); a row the
    policy never visited is drawn hollow (white, dashed dark outline) and a tied row gold,
    instead of in the colour the tie rule would give it. Edges are coloured by reward
    (green +, red -); attractor states get a black ring. ``labels`` is ``"index"``,
    ``"words"`` or ``"none"``; ``legend=True`` explains the colours. Returns the node
    positions, so several panels can share one layout.
    """
    g = graph if reward is None else reward_subgraph(graph, reward)
    if pos is None:
        pos = nx.kamada_kawai_layout(nx.Graph(graph)) if graph.number_of_nodes() > 1 else {n: (0, 0) for n in graph}
    in_attractor = {s for att in attractors(graph, reward) for s in att} if reward is not None else set()
    nodes = list(g.nodes)
    ring = {s: (2.0, "k") if s in in_attractor else (0.5, "0.6") for s in nodes}
    learned = [s for s in nodes if g.nodes[s].get("visited", True)]
    never = [s for s in nodes if not g.nodes[s].get("visited", True)]
    for group, face, style in ((learned, None, "solid"), (never, UNVISITED_COLOR, (0, (2, 1.5)))):
        if not group:
            continue
        drawn = nx.draw_networkx_nodes(
            g,
            pos,
            ax=ax,
            nodelist=group,
            node_color=[face or _node_face(g.nodes[s]) for s in group],
            edgecolors=[ring[s][1] if s in in_attractor or face is None else "0.25" for s in group],
            linewidths=[ring[s][0] if s in in_attractor or face is None else 1.1 for s in group],
            node_size=180,
        )
        drawn.set_linestyle(style)
        drawn.set_gid("unvisited" if face else "visited")
    for r in (-1, 1):
        edges = [(u, v) for u, v, rr in g.edges(data="reward") if rr == r]
        nx.draw_networkx_edges(
            g, pos, ax=ax, edgelist=edges, edge_color=REWARD_COLORS[r], arrows=True, arrowsize=8, width=0.7
        )
    if labels != "none":
        text = {s: (g.nodes[s]["label"] if labels == "words" else str(s)) for s in nodes}
        nx.draw_networkx_labels(g, pos, labels=text, ax=ax, font_size=6)
    if legend:
        from matplotlib.lines import Line2D

        entries = [(ACTION_COLORS[a], "0.6", f"greedy {ACTION_NAMES[a]}") for a in range(N_ACTIONS)]
        entries += [(TIE_COLOR, "0.6", "tie"), (UNVISITED_COLOR, "0.25", "never visited (dashed)")]
        handles = [
            Line2D([], [], ls="", marker="o", ms=7, markerfacecolor=face, markeredgecolor=edge, label=text)
            for face, edge, text in entries
        ]
        if in_attractor:
            handles.append(
                Line2D([], [], ls="", marker="o", ms=7, mfc="none", mec="k", mew=2.0, label="on an attractor")
            )
        ax.legend(handles=handles, fontsize="x-small", loc="lower left", frameon=False)
    ax.set_axis_off()
    ax.set_title("synapse automaton" + ("" if reward is None else f" (reward {'+' if reward > 0 else '-'}1)"))
    return pos
