"""Conformance checks for state features: do the one-synapse and all-synapses implementations agree?

The mirror between the agent view and the vectorised backend holds only if every
feature's :meth:`~synapse_sim.rules.synaptic_rl.features.Feature.local` and
:meth:`~synapse_sim.rules.synaptic_rl.features.Feature.batch` give the same digit for the same
synapse. :func:`check_feature` tests that on random contexts (with values placed
on and next to the feature's own numeric parameters, where off-by-one and
float32/float64 slips live) and on the contexts of a real small engine.

Example, a user-written feature checked before it is used in a scenario::

    import numpy as np
    from synapse_sim.rules.synaptic_rl.features import Feature, register_feature
    from synapse_sim.conformance import check_feature

    @register_feature
    class IsBias(Feature):
        \"\"\"0 for a weight, 1 for a bias synapse.\"\"\"

        name = "is_bias"
        cardinality = 2

        def local(self, ctx):
            return int(ctx.is_bias)

        def batch(self, ctx):
            return np.asarray(ctx.is_bias, dtype=np.int64)

    report = check_feature(IsBias())
    assert report.ok, report  # str(report) lists each disagreement with its context
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..rules.synaptic_rl.features import (
    FEATURES,
    Feature,
    LastActions,
    LastRewards,
    PopulationContext,
    SynapseContext,
    feature_from_spec,
)
from .feature_slips import check_memory, check_parameters

_SPECIAL = (0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1 / 3, -1 / 3, 2 / 3, -2 / 3, 1e-12, -1e-12, 2.0, -2.0)


@dataclass
class Mismatch:
    """One synapse on which the two implementations disagree (or a value is out of range)."""

    source: str
    sid: int
    local: object
    batch: object
    context: SynapseContext
    reason: str = "local != batch"

    def __str__(self) -> str:
        return (
            f"[{self.source}] sid {self.sid}: local={self.local!r} batch={self.batch!r} ({self.reason}); {self.context}"
        )


@dataclass
class FeatureReport:
    """What :func:`check_feature` found; ``ok`` is true when nothing is wrong."""

    feature: Feature
    n_checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    n_mismatches: int = 0
    problems: list[str] = field(default_factory=list)
    max_examples: int = 20

    @property
    def ok(self) -> bool:
        return self.n_mismatches == 0 and not self.problems

    def add(self, mismatch: Mismatch) -> None:
        self.n_mismatches += 1
        if len(self.mismatches) < self.max_examples:
            self.mismatches.append(mismatch)

    def __str__(self) -> str:
        head = f"{self.feature!r}: {self.n_checked} synapse contexts checked, "
        if self.ok:
            return head + "local and batch agree"
        lines = [head + f"{self.n_mismatches} mismatches, {len(self.problems)} problems"]
        lines += [f"  problem: {p}" for p in self.problems]
        lines += [f"  {m}" for m in self.mismatches]
        if self.n_mismatches > len(self.mismatches):
            lines.append(f"  ... and {self.n_mismatches - len(self.mismatches)} more mismatches")
        return "\n".join(lines)


def synapse_contexts(ctx: PopulationContext) -> list[SynapseContext]:
    """One :class:`SynapseContext` per synapse, as the agent view would build it from its own memory."""
    n = ctx.n_synapses
    rewards = tuple(int(r) for r in ctx.reward_history)

    def at(values, sid, cast):
        return None if values is None else cast(values[sid])

    return [
        SynapseContext(
            sid=sid,
            action_history=tuple(int(a) for a in ctx.action_history[sid]),
            reward_history=rewards,
            weight=float(ctx.weight[sid]),
            is_bias=bool(ctx.is_bias[sid]),
            streak=0 if ctx.streak is None else int(ctx.streak[sid]),
            pre_activity=at(ctx.pre_activity, sid, float),
            post_activity=at(ctx.post_activity, sid, float),
            layer=0 if ctx.layer is None else int(ctx.layer[sid]),
            pre=0 if ctx.pre is None else int(ctx.pre[sid]),
            post=0 if ctx.post is None else int(ctx.post[sid]),
            explored=False if ctx.explored is None else bool(ctx.explored[sid]),
            memory=_one_synapse(ctx.memory, sid, n),
        )
        for sid in range(n)
    ]


def _one_synapse(memory, sid: int, n: int) -> dict:
    """One synapse's share of the rule's memory arrays (shared fields, such as the reward history, whole)."""
    return {
        k: (v[sid] if np.ndim(v) and np.shape(v)[0] == n and k != "reward_history" else v) for k, v in memory.items()
    }


def _parameter_values(feature: Feature) -> list[float]:
    """Numbers among the feature's parameters, with their float neighbours: the likely bin edges."""
    found = []

    def walk(value):
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float, np.integer, np.floating)):
            found.append(float(value))
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for value in feature.params().values():
        walk(value)
    values = []
    for v in found:
        if np.isfinite(v):
            values += [v, -v, np.nextafter(v, np.inf), np.nextafter(v, -np.inf)]
            values += [float(np.float32(v)), float(np.nextafter(np.float32(v), np.float32(np.inf)))]
    return values


def random_population(feature: Feature, n: int, rng: np.random.Generator, dtype=np.float64) -> PopulationContext:
    """Random contexts covering every field a feature may read, a third of the values on special points."""
    specials = np.array(_SPECIAL + tuple(_parameter_values(feature)), dtype=np.float64)

    def floats():
        values = rng.normal(scale=rng.choice([0.01, 0.5, 2.0]), size=n)
        pick = rng.random(n) < 1 / 3
        values[pick] = rng.choice(specials, int(pick.sum()))
        return values.astype(dtype)

    history = max(1, feature.action_memory, feature.reward_memory) + 1
    cap = max([int(v) for v in _parameter_values(feature) if float(v).is_integer() and 0 <= v < 1e6] + [5])
    ctx = PopulationContext(
        action_history=rng.integers(0, 3, (n, history)).astype(np.int8),
        reward_history=rng.choice(np.array([-1, 0, 1], dtype=np.int8), history),
        weight=floats(),
        is_bias=rng.random(n) < 0.2,
        streak=rng.integers(0, cap + 3, n).astype(np.int32),
        pre_activity=floats(),
        post_activity=floats(),
    )
    explored = rng.random(n) < 0.25
    memory = {"action_history": ctx.action_history, "reward_history": ctx.reward_history, "streak": ctx.streak}
    return replace(
        ctx,
        layer=rng.integers(0, 4, n).astype(np.int32),
        pre=rng.integers(0, 40, n).astype(np.int32),
        post=rng.integers(0, 40, n).astype(np.int32),
        explored=explored,
        memory={**memory, "explored": explored},
    )


def compare(feature: Feature, ctx: PopulationContext, source: str, report: FeatureReport) -> None:
    """Run both implementations on ``ctx`` and record every disagreement in ``report``."""
    contexts = synapse_contexts(ctx)
    report.n_checked += len(contexts)
    try:
        batch = np.asarray(feature.batch(ctx))
    except Exception as exc:  # a user's feature may fail in any way; report it, do not crash the check
        report.problems.append(f"[{source}] batch raised {type(exc).__name__}: {exc}")
        return
    if batch.shape != (ctx.n_synapses,):
        report.problems.append(f"[{source}] batch returned shape {batch.shape}, expected ({ctx.n_synapses},)")
        return
    if not np.issubdtype(batch.dtype, np.integer):
        report.problems.append(f"[{source}] batch returned dtype {batch.dtype}, expected integers")
    card = feature.cardinality
    for sid, sctx in enumerate(contexts):
        try:
            value = feature.local(sctx)
        except Exception as exc:  # see above
            report.add(Mismatch(source, sid, f"raised {type(exc).__name__}: {exc}", batch[sid].item(), sctx))
            continue
        b = batch[sid].item()
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            report.add(Mismatch(source, sid, value, b, sctx, f"local returned {type(value).__name__}, not int"))
        elif not 0 <= int(value) < card or not 0 <= b < card:
            report.add(Mismatch(source, sid, value, b, sctx, f"outside [0, {card})"))
        elif int(value) != b:
            report.add(Mismatch(source, sid, value, b, sctx))


def _check_spec(feature: Feature, report: FeatureReport) -> bool:
    """The feature must be registered under its name and rebuild itself from its spec (policy files need it)."""
    if not feature.name:
        report.problems.append("feature has no `name`")
        return False
    if FEATURES.get(feature.name) is not type(feature):
        report.problems.append(
            f"feature {feature.name!r} is not registered (use @register_feature); scenarios and policy files "
            "cannot name it"
        )
        return False
    try:
        again = feature_from_spec(feature.spec())
    except ValueError as exc:
        report.problems.append(f"spec {feature.spec()} does not rebuild the feature: {exc}")
        return False
    if again != feature or again.cardinality != feature.cardinality:
        report.problems.append(f"spec {feature.spec()} rebuilds {again!r}, not {feature!r}")
        return False
    return True


ENGINE_SETTINGS = (
    {"layers": [2, 6, 1], "hidden_activation": "tanh", "dtype": "float64"},
    {"layers": [2, 5, 4, 1], "hidden_activation": "relu", "dtype": "float32"},
    {"layers": [2, 1], "hidden_activation": "tanh", "dtype": "float32"},
)


def engine_contexts(feature: Feature, steps: int, seed: int = 0):
    """Yield ``(label, PopulationContext)`` of small engines whose state space is the paper's plus ``feature``.

    Three network shapes (2-6-1 tanh/float64, 2-5-4-1 relu/float32, 2-1 with no hidden layer),
    adaptive with much exploration and large steps, so that weights cross zero, actions
    repeat and change, and activity moves between bins.
    """
    from ..engine.vector import VectorEngine
    from ..rules.synaptic_rl.rule import feature_context
    from ..scenario import Scenario

    features = [LastActions(2).spec(), LastRewards(2).spec(), feature.spec()]
    for k, settings in enumerate(ENGINE_SETTINGS):
        scenario = Scenario().with_overrides(
            {
                "n_points": 100,
                "iterations": max(steps, 1),
                "state.features": features,
                "run.seed": seed + k,
                "epsilon": 0.5,
                "alpha_s": 0.05,
                **settings,
            }
        )
        engine = VectorEngine(scenario)
        shape = "-".join(map(str, settings["layers"]))
        for step in range(steps + 1):
            if step:
                engine.step()
            ctx = engine.population.context(engine.step_count, neurons=engine.simulation.neurons)
            label = f"engine {shape} {settings['hidden_activation']}/{settings['dtype']} step {step}"
            yield (label, feature_context(ctx, engine.simulation.topology))


def check_feature(
    feature: Feature, n_random: int = 500, seed: int = 0, engine_steps: int = 20, max_examples: int = 20
) -> FeatureReport:
    """Check that ``feature.local`` and ``feature.batch`` agree and give ints in ``[0, cardinality)``.

    Runs ``n_random`` random synapse contexts in float64 and as many in float32, then
    the contexts of three small engines (2-6-1 tanh/float64, 2-5-4-1 relu/float32, 2-1) for
    ``engine_steps`` steps each, whose state space is the paper's plus ``feature``. It also
    fails a feature that reads more past actions or rewards than it declares
    and one whose parameter does not reach its spec (:mod:`.feature_slips`).
    The engine part needs the feature registered (scenarios name features by spec);
    an unregistered feature is reported as a problem and checked on random contexts only.
    Returns a :class:`FeatureReport`; ``report.ok`` is the verdict and ``str(report)``
    lists the disagreements with the synapse context that caused each.
    """
    report = FeatureReport(feature, max_examples=max_examples)
    rng = np.random.default_rng(seed)
    if n_random:
        for dtype in (np.float64, np.float32):
            ctx = random_population(feature, n_random, rng, dtype)
            compare(feature, ctx, f"random {np.dtype(dtype).name}", report)
    slips = np.random.default_rng([seed, 1])
    report.problems += check_memory(feature, random_population(feature, 500, slips), slips)
    report.problems += check_parameters(feature)
    if engine_steps and _check_spec(feature, report):
        try:
            for label, ctx in engine_contexts(feature, engine_steps, seed):
                compare(feature, ctx, label, report)
        except Exception as exc:  # engine construction validates the spec; surface any failure as a finding
            report.problems.append(f"engine run with this feature failed: {type(exc).__name__}: {exc}")
    return report
