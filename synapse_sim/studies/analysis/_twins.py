"""Shared plumbing of the twin-run analyses: engines for a scenario (optionally with another policy),
snapshots of everything a synapse remembers, and where two snapshots differ."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# checkpoint entries that do not steer the trajectory (counters, the averaging window's running sum)
_PASSIVE = frozenset({"step", "evaluations", "q_sum", "q_count"})


def engine_factory(scenario, policy=None) -> Callable:
    """A function making fresh ``VectorEngine``s for ``scenario``.

    ``policy`` (optional) replaces the scenario's: a file name as ``policy.file``
    takes it (``"shipped"``, ``"shipped:NAME"``, ``"user:NAME"``, a path), or a
    :class:`Policy`, frozen, with the scenario's epsilon. Each engine gets its own copy.
    """
    from ...engine.vector import VectorEngine

    if policy is None:
        return lambda: VectorEngine(scenario)
    from ...rules.synaptic_rl.policy import Policy
    from ...rules.synaptic_rl.rule import SynapticRL
    from ...rules.synaptic_rl.state_space import StateSpace

    if not isinstance(policy, Policy):
        named = scenario.with_overrides({"policy.file": str(policy), "policy.mode": "static"})
        return lambda: VectorEngine(named)
    if scenario["run"]["method"] != SynapticRL.name:
        raise ValueError(f"a policy needs a synaptic_rl scenario, this one runs {scenario['run']['method']!r}")
    space = StateSpace.from_spec(scenario["state"]["features"])
    if space != policy.state_space:
        raise ValueError(f"the policy's state space {policy.state_space.spec()} is not the scenario's {space.spec()}")
    p, synapse = scenario["policy"], scenario["synapse"]

    def make():
        frozen = Policy(space, p["epsilon"], p["alpha_q"], p["gamma"], adaptive=False, q=policy.q)
        rule = SynapticRL(
            frozen,
            alpha_s=synapse["alpha_s"],
            bias_step_scale=scenario["network"]["bias_step_scale"],
            alpha_s_schedule=synapse["alpha_s_schedule"],
        )
        return VectorEngine(scenario, rule=rule)

    return make


def snapshot(engine) -> dict[str, np.ndarray]:
    """Everything that steers the engine's future: its checkpoint plus the derived memory (the state index)."""
    state = {k: np.array(v, copy=True) for k, v in engine.checkpoint().items() if k not in _PASSIVE}
    for name, value in engine.population.state.items():
        state.setdefault(name, np.array(value, copy=True))
    return state


def memory_differs(fields: dict, a: dict, b: dict, n: int) -> np.ndarray:
    """Boolean per synapse: does any of its memory fields differ? A shared field (the reward history) that
    differs makes every synapse differ, since every synapse remembers it."""
    differ = np.zeros(n, dtype=bool)
    for name, field in fields.items():
        x, y = a[name], b[name]
        if field.shared:
            if not np.array_equal(x, y):
                differ[:] = True
        elif x.ndim > 1:
            differ |= np.any(x != y, axis=tuple(range(1, x.ndim)))
        else:
            differ |= x != y
    return differ


def own_memory_differs(fields: dict, a: dict, b: dict, n: int) -> np.ndarray:
    """Like :func:`memory_differs`, but only the synapse's own fields (not the shared broadcast history,
    not fields derived from it such as the state index)."""
    own = {k: f for k, f in fields.items() if not f.shared and not f.derived}
    return memory_differs(own, a, b, n)


def identical(a: dict, b: dict) -> bool:
    """Two snapshots from which the engines run the same trajectory (weights, memory, shared state)."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def flip_in(state: dict, sids, positions, shifts) -> dict:
    """A copy of ``state`` with the remembered action of each ``sid`` at ``position`` moved by ``shift`` (mod 3)."""
    out = {k: np.array(v, copy=True) for k, v in state.items()}
    history = out["action_history"]
    history[sids, positions] = (history[sids, positions] + shifts) % 3
    return out
