"""Names for greedy rules: the exact table encoding (a number, a base-36 name) and a canonical name and
distance that look only at the states a synapse can reach and the rows the policy visited."""

from __future__ import annotations

import string
from typing import NamedTuple

import numpy as np

from ...rules.synaptic_rl.policy import N_ACTIONS, Policy
from ...rules.synaptic_rl.state_space import StateSpace
from .automaton import _greedy, _q_table, maximal_actions, reachable_states, visited_mask

__all__ = [
    "CANONICAL_SYMBOLS",
    "RuleDistance",
    "canonical_rule_name",
    "decode_canonical_name",
    "greedy_from_name",
    "greedy_from_number",
    "policy_from_rule",
    "rule_distance",
    "rule_name",
    "rule_number",
]

_DIGITS = string.digits + string.ascii_lowercase

# --- the exact table encoding (not canonical) ----------------------------------------------


def rule_number(policy_or_greedy) -> int:
    """The greedy table as one integer, like a CA rule number: ``sum_s greedy[s] * 3**s``.

    State 0's action is the least significant base-3 digit (Wolfram's convention).
    This encodes the *whole* table, including states no synapse can reach and the tie
    rule's choice in rows the policy never visited, so it is not canonical: two rules
    that act alike on every state a synapse meets can get different numbers (use
    :func:`canonical_rule_name` to compare rules).
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
    """A short citable name for a greedy table: ``"s<n_states>-<rule number in base 36>"``.

    The state count is part of the name because a rule number alone does not say
    how many leading "decrement" digits it has. The 81-state paper rules need at most
    25 base-36 characters. Like :func:`rule_number` it is the exact table and round-trips
    to it (:func:`greedy_from_name`), but it is **not canonical**: unreachable states and
    tie-breaks in unvisited rows are part of it (:func:`canonical_rule_name` leaves them out).
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


# --- canonical names and distances -----------------------------------------------------------

# One character per reachable state: the greedy action when it is unique, a letter for the set
# of actions tied at the row's maximum, "." for a row the policy never visited.
CANONICAL_SYMBOLS = {
    (0,): "0",
    (1,): "1",
    (2,): "2",
    (0, 1): "a",
    (0, 2): "b",
    (1, 2): "c",
    (0, 1, 2): "t",
    (): ".",
}
_SYMBOL_ACTIONS = {v: k for k, v in CANONICAL_SYMBOLS.items()}


def _space_of(policy_or_table, state_space: StateSpace | None) -> StateSpace:
    if isinstance(policy_or_table, Policy):
        return policy_or_table.state_space
    if state_space is None:
        raise ValueError("pass the state space along with a bare Q or greedy table")
    return state_space


def _symbols(policy_or_table, state_space: StateSpace | None, visited=None) -> tuple[np.ndarray, list[str]]:
    space = _space_of(policy_or_table, state_space)
    reachable = reachable_states(space)
    q = _q_table(policy_or_table)
    if q is not None:
        if q.shape != (space.n_states, N_ACTIONS):
            raise ValueError(f"Q table has shape {q.shape}, the state space needs ({space.n_states}, {N_ACTIONS})")
        maximal = maximal_actions(q)
        seen = visited_mask(q, visited)
    else:
        greedy, _ = _greedy(policy_or_table, space)
        maximal = np.eye(N_ACTIONS, dtype=bool)[greedy]
        seen = np.ones(space.n_states, dtype=bool) if visited is None else visited_mask(None, visited)
    symbols = [
        CANONICAL_SYMBOLS[tuple(np.flatnonzero(maximal[s]).tolist()) if seen[s] else ()] for s in reachable.tolist()
    ]
    return reachable, symbols


def canonical_rule_name(policy_or_table, state_space: StateSpace | None = None, visited=None) -> str:
    """A name for what a rule does where synapses actually are: ``"s<n_states>r<n_reachable>-<symbols>"``.

    One symbol per state reachable from the initial memory (:func:`reachable_states`),
    in increasing state order: the greedy action ``0``/``1``/``2`` (dec / keep / inc)
    when it is unique, ``a``/``b``/``c``/``t`` for a tie between dec+keep / dec+inc /
    keep+inc / all three, and ``.`` for a row the policy never visited (all zeros, or
    a zero count in ``visited``). Unreachable states are left out, and so is the tie
    rule's arbitrary pick, so two Q tables that differ only on unreachable rows, or only
    in the values (not the set of maximal actions) of tied rows, get the same name;
    any difference in a visited reachable row's greedy action(s) changes it.
    Accepts a Policy, a Q table ``(n_states, 3)`` or a greedy table (no tie or visit
    information: every state counts as visited unless ``visited`` says otherwise).
    Unlike :func:`rule_name` the name does not round-trip to a full table (the
    unreachable rows are not in it); :func:`decode_canonical_name` reads it back.
    """
    space = _space_of(policy_or_table, state_space)
    reachable, symbols = _symbols(policy_or_table, space, visited)
    return f"s{space.n_states}r{reachable.size}-{''.join(symbols)}"


def decode_canonical_name(name: str, state_space: StateSpace) -> dict[int, tuple[int, ...]]:
    """Inverse of :func:`canonical_rule_name`: reachable state -> its maximal actions (``()`` = never visited)."""
    reachable = reachable_states(state_space)
    head, _, body = name.strip().partition("-")
    expected = f"s{state_space.n_states}r{reachable.size}"
    if head != expected or len(body) != reachable.size or not set(body) <= set(_SYMBOL_ACTIONS):
        raise ValueError(f"{name!r} is not a canonical rule name for this state space (expected '{expected}-...')")
    return {int(s): _SYMBOL_ACTIONS[c] for s, c in zip(reachable.tolist(), body, strict=True)}


class RuleDistance(NamedTuple):
    """How two rules differ on the reachable states (see :func:`rule_distance`)."""

    count: int  # states where the greedy actions differ
    fraction: float  # count / compared
    weighted: float | None  # the share of the weight (e.g. occupancy) on differing states; None without weights
    compared: int  # states compared


def rule_distance(a, b, weights=None, state_space: StateSpace | None = None, visited_only: bool = False):
    """Number and fraction of reachable states where the greedy actions of ``a`` and ``b`` differ.

    ``a`` and ``b`` are Policies, Q tables or greedy tables on one state space. The
    greedy action is what the simulation does (ties to the lowest index), so two rules
    with the same :func:`canonical_rule_name` are at distance 0. ``visited_only=True``
    compares only states both rules visited (rows with data; needs Q tables or Policies).
    ``weights`` (one value per state, e.g. ``occupancy(states, n).mean(axis=0)``; a 2-D
    occupancy is averaged over time) gives ``weighted``: the share of that weight sitting
    on states where the rules differ, i.e. how often the difference matters in a run.
    Returns a :class:`RuleDistance` ``(count, fraction, weighted, compared)``.
    """
    space = _space_of(a if isinstance(a, Policy) else b, state_space)
    for rule in (a, b):
        if isinstance(rule, Policy) and rule.state_space != space:
            raise ValueError(f"the rules use different state spaces: {space.spec()} and {rule.state_space.spec()}")
    greedy_a, _ = _greedy(a, space)
    greedy_b, _ = _greedy(b, space)
    states = reachable_states(space)
    if visited_only:
        both = visited_mask(a) & visited_mask(b)
        states = states[both[states]]
    differ = greedy_a[states] != greedy_b[states]
    count = int(differ.sum())
    weighted = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        w = w.mean(axis=0) if w.ndim == 2 else w
        if w.shape != (space.n_states,):
            raise ValueError(f"weights need one value per state ({space.n_states}), got shape {w.shape}")
        total = float(w[states].sum())
        weighted = float(w[states][differ].sum() / total) if total > 0 else float("nan")
    return RuleDistance(count, count / states.size if states.size else 0.0, weighted, int(states.size))
