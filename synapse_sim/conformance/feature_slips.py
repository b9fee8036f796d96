"""Two slips of a state feature that agreement between ``local`` and ``batch`` cannot see.

:func:`check_memory`: it reads more history than it declares (the engine keeps only what the
state space declares, so in a run it silently sees less). :func:`check_parameters`: a
constructor parameter does not reach ``spec()`` (scenarios, policy files and equality lose it).
:func:`synapse_sim.conformance.check_feature` runs both.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..rules.synaptic_rl.features import MAX_HISTORY, Feature, PopulationContext


def _digits(feature: Feature, ctx: PopulationContext) -> np.ndarray | None:
    try:
        return np.asarray(feature.batch(ctx))
    except Exception:  # compare() reports a failing batch; here it only means "cannot tell"
        return None


def _truncated(ctx: PopulationContext, actions: int, rewards: int) -> PopulationContext:
    memory = dict(ctx.memory)
    memory["action_history"] = ctx.action_history[:, :actions]
    memory["reward_history"] = ctx.reward_history[:rewards]
    return replace(ctx, action_history=memory["action_history"], reward_history=memory["reward_history"], memory=memory)


def check_memory(feature: Feature, ctx: PopulationContext, rng: np.random.Generator) -> list[str]:
    """Problems if ``feature`` reads more past actions or rewards than it declares.

    The engine keeps only ``action_memory`` / ``reward_memory`` entries (the most any feature
    of the state space declares, at least 1), so a feature that reads further silently sees a
    shorter history. Here it gets :data:`MAX_HISTORY` entries (``ctx`` with longer histories)
    and the declared number: its digits must not change.
    """
    n = ctx.n_synapses
    problems = []
    actions = rng.integers(0, 3, (n, MAX_HISTORY)).astype(np.int8)
    rewards = rng.choice(np.array([-1, 1], dtype=np.int8), MAX_HISTORY)
    memory = {**ctx.memory, "action_history": actions, "reward_history": rewards}
    long_ctx = replace(ctx, action_history=actions, reward_history=rewards, memory=memory)
    full = _digits(feature, long_ctx)
    if full is None:
        return problems
    for what, attribute, declared in (
        ("actions", "action_memory", max(1, feature.action_memory)),
        ("rewards", "reward_memory", max(1, feature.reward_memory)),
    ):
        sizes = {"actions": MAX_HISTORY, "rewards": MAX_HISTORY, what: declared}
        short = _digits(feature, _truncated(long_ctx, sizes["actions"], sizes["rewards"]))
        if short is None or short.shape != full.shape:
            problems.append(
                f"reads more past {what} than it declares ({attribute} = {getattr(feature, attribute)}): "
                f"it fails on a history of {declared}; set {attribute} to the number of past {what} it reads"
            )
            continue
        differ = int(np.count_nonzero(short != full))
        if differ:
            needed = next(
                m
                for m in range(declared + 1, MAX_HISTORY + 1)
                if np.array_equal(_digits(feature, _truncated(long_ctx, *{**sizes, what: m}.values())), full)
            )
            problems.append(
                f"reads more past {what} than it declares ({attribute} = {getattr(feature, attribute)}): with "
                f"{MAX_HISTORY} past {what} instead of {declared} its digit changes on {differ} of {n} synapses, so "
                f"in a run it silently sees fewer; set {attribute} = {needed}"
            )

    return problems


def _variants(value) -> list:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, (int, np.integer)):
        return [int(value) + 1, int(value) - 1, int(value) + 2]
    if isinstance(value, (float, np.floating)):
        return [float(value) * 2 + 1, float(value) / 2, float(value) + 0.5]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
        return [type(value)([*value[:-1], value[-1] + 1])]
    return []


def check_parameters(feature: Feature) -> list[str]:
    """Problems if a constructor parameter of ``feature`` does not reach :meth:`Feature.spec`.

    Scenarios, policy files and equality go through the spec: a parameter missing from
    ``params()`` is lost (``k=3`` and ``k=6`` would compare equal and save alike).
    """
    import inspect

    cls = type(feature)
    try:
        parameters = inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return []
    problems = []
    spec = feature.spec()
    current = {k: v for k, v in spec.items() if k != "name"}
    for name, parameter in parameters.items():
        if name == "self" or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        value = current.get(name, getattr(feature, name, parameter.default))
        for variant in _variants(value):
            try:
                other = cls(**{**current, name: variant})
            except Exception:  # a value the feature refuses: try the next one
                continue
            if other.spec() == spec and repr(vars(other)) != repr(vars(feature)):
                problems.append(
                    f"parameter {name!r} does not reach spec(): {cls.__name__}({name}={variant!r}) has the same spec "
                    f"{spec} as {feature!r}, so scenarios, policy files and comparisons lose it; return it from "
                    "params()"
                )
            break
    return problems
