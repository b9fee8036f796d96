"""The synapse population as a cellular automaton: space-time diagrams, entropy, automata, damage, rule names.

Every synapse is a cell whose state is its memory (last actions, last rewards) and
whose update rule is the shared greedy policy; the global reward couples all cells.
These functions return plain data (NumPy arrays, networkx graphs) and each
``plot_*`` helper draws that data on a matplotlib ``Axes`` the caller owns (as in
CellPyLib), so nothing here chooses a backend or opens a window.

Actions are coded 0 = decrement, 1 = keep, 2 = increment throughout.
"""

from __future__ import annotations

import itertools
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ..engine.topology import Topology
from ..rules.synaptic_rl.features import ACTION_NAMES, LastActions, LastRewards, StateSpace
from ..rules.synaptic_rl.policy import N_ACTIONS, Policy

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
    from ..engine.vector import VectorEngine

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
    Points above the diagonal for small x mean perturbations grow (chaotic regime),
    below mean they heal (ordered). Returns ``(x, y)`` with y averaged over ``trials``.
    """
    from ..engine.vector import VectorEngine

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
