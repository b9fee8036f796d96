"""The extra state features (activity, weight sign, streak), the conformance check, and the mirror with them."""

import json

import numpy as np
import pytest
from conftest import states

from synapse_sim import Scenario, Topology, VectorEngine
from synapse_sim.conformance import check_feature
from synapse_sim.conformance.features import ENGINE_SETTINGS
from synapse_sim.model import SynapseModel
from synapse_sim.rules.synaptic_rl.features import (
    FEATURES,
    Feature,
    LastActions,
    LastRewards,
    PopulationContext,
    PostActivity,
    PreActivity,
    Streak,
    SynapseContext,
    WeightSign,
    feature_from_spec,
)
from synapse_sim.rules.synaptic_rl.policy import Policy
from synapse_sim.rules.synaptic_rl.state_space import StateSpace

PAPER = [{"name": "last_actions", "n": 2}, {"name": "last_rewards", "n": 2}]


def ctx(**fields) -> SynapseContext:
    base = dict(sid=0, action_history=(1, 1), reward_history=(0, 0), weight=0.0, is_bias=False)
    return SynapseContext(**{**base, **fields})


# --- the features themselves -------------------------------------------------------------


def test_activity_bins_default_on_magnitude():
    f = PreActivity()
    assert f.cardinality == 3 and f.edges == (1 / 3, 2 / 3) and f.needs == {"activity"}
    digits = [f.local(ctx(pre_activity=a)) for a in (0.0, -0.2, 1 / 3, -0.5, 0.9, -1.0, 1.0, 7.5)]
    assert digits == [0, 0, 1, 1, 2, 2, 2, 2]  # an edge goes up; the bias unit (1.0) is "high"


def test_activity_bins_signed_and_custom_edges():
    signed = PostActivity(absolute=False)
    assert signed.edges == (-1 / 3, 1 / 3)
    assert [signed.local(ctx(post_activity=a)) for a in (-0.9, 0.0, 0.5)] == [0, 1, 2]
    two = PostActivity(edges=[0.05])
    assert two.cardinality == 2 and [two.local(ctx(post_activity=a)) for a in (0.01, -0.06)] == [0, 1]
    assert PreActivity(bins=4).edges == (0.25, 0.5, 0.75)
    assert PreActivity().digit_labels()[0].startswith("|pre| in [0,")


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: PreActivity(bins=3, edges=[0.5]), "3 bins need 2 edges"),
        (lambda: PreActivity(edges=[0.5, 0.2]), "strictly increasing"),
        (lambda: PreActivity(bins=1), "bins >= 2"),
        (lambda: WeightSign(tol=-1), "tol >= 0"),
        (lambda: Streak(cap=0), "cap >= 1"),
    ],
)
def test_bad_parameters_say_what_is_allowed(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_activity_feature_without_activity_names_the_fix():
    with pytest.raises(ValueError, match="needs"):
        PreActivity().local(ctx())


def test_weight_sign_with_tolerance():
    assert [WeightSign().local(ctx(weight=w)) for w in (-1e-9, 0.0, -0.0, 1e-9)] == [0, 1, 1, 2]
    assert [WeightSign(tol=1e-3).local(ctx(weight=w)) for w in (-2e-3, -1e-3, 5e-4, 1e-3, 2e-3)] == [0, 1, 1, 1, 2]
    assert WeightSign().digit_labels() == ["w<0", "w=0", "w>0"]


def test_streak_caps():
    f = Streak(cap=3)
    assert f.cardinality == 4 and f.needs == {"streak"}
    assert [f.local(ctx(streak=s)) for s in (0, 1, 2, 3, 4, 50)] == [0, 1, 2, 3, 3, 3]
    assert f.digit_labels() == ["x0", "x1", "x2", "x3+"]


def test_state_space_sized_from_features_and_spec_round_trips_through_json():
    space = StateSpace([LastActions(2), LastRewards(2), Streak(3), WeightSign(1e-4), PreActivity(), PostActivity(4)])
    assert space.n_states == 81 * 4 * 3 * 3 * 4
    assert space.needs == {"streak", "activity"}
    again = StateSpace.from_spec(json.loads(json.dumps(space.spec())))
    assert again == space and again.n_states == space.n_states
    assert all(feature_from_spec(f.spec()) == f for f in space.features)
    assert {"pre_activity", "post_activity", "weight_sign", "streak"} <= set(FEATURES)


def test_policy_file_with_new_features_round_trips(tmp_path):
    space = StateSpace([*StateSpace.paper().features, Streak(2), WeightSign()])
    q = np.random.default_rng(0).normal(size=(space.n_states, 3))
    Policy(space, q=q).save(tmp_path / "p")
    loaded = Policy.load(tmp_path / "p", space)
    assert loaded.state_space == space and np.array_equal(loaded.q, q)


def test_engine_streak_counts_repeats():
    """streak is 0 before the first action, 1 after a change, +1 per repeat (initial memory: keep)."""
    scenario = Scenario().with_overrides(
        {"layers": [2, 4, 1], "n_points": 50, "epsilon": 0.5, "state.features": [*PAPER, {"name": "streak", "cap": 3}]}
    )
    engine = VectorEngine(scenario)
    assert not engine.population.state["streak"].any()
    expected = np.zeros(engine.simulation.topology.n_synapses, dtype=np.int64)
    previous = np.ones_like(expected)
    longest = 0
    for _ in range(15):
        engine.step()
        actions = engine.population.actions()
        expected = np.where(actions == previous, expected + 1, 1)
        previous = actions
        assert np.array_equal(engine.population.state["streak"], expected)
        longest = max(longest, int(expected.max()))
    assert longest > 3  # the cap is exercised


# --- the conformance check ---------------------------------------------------------------

BUILT_IN = [
    LastActions(1),
    LastActions(2),
    LastRewards(2),
    PreActivity(),
    PreActivity(bins=4, absolute=False),
    PostActivity(),
    PostActivity(edges=[-0.1, 0.0, 0.1], absolute=False),
    WeightSign(),
    WeightSign(tol=1e-3),
    Streak(),
    Streak(cap=1),
]


@pytest.mark.parametrize("feature", BUILT_IN, ids=repr)
def test_every_built_in_feature_passes_the_conformance_check(feature):
    report = check_feature(feature, n_random=300, engine_steps=10)
    assert report.ok, str(report)
    synapses = sum(Topology.from_layers(s["layers"]).n_synapses for s in ENGINE_SETTINGS)
    assert synapses == 25 + 44 + 3  # 2-6-1, 2-5-4-1 and 2-1: several network shapes
    assert report.n_checked == 2 * 300 + 11 * synapses


class SloppyZero(Feature):
    """Broken on purpose: local says w >= 0 is positive, batch says w > 0."""

    name = "sloppy_zero"
    cardinality = 2

    def local(self, ctx):
        return int(ctx.weight >= 0)

    def batch(self, ctx):
        return (np.asarray(ctx.weight) > 0).astype(np.int64)


class Float32Threshold(Feature):
    """Broken on purpose: batch compares float32 weights with a Python float, which NumPy 2 does in float32."""

    name = "float32_threshold"
    cardinality = 2

    def __init__(self, threshold: float = 0.1):
        self.threshold = float(threshold)

    def params(self):
        return {"threshold": self.threshold}

    def local(self, ctx):
        return int(ctx.weight > self.threshold)

    def batch(self, ctx):
        return (ctx.weight > self.threshold).astype(np.int64)


class OutOfRange(Feature):
    name = "out_of_range"
    cardinality = 2

    def local(self, ctx):
        return 2

    def batch(self, ctx):
        return np.full(ctx.n_synapses, 2)


def test_broken_feature_is_reported_with_its_context(monkeypatch):
    monkeypatch.setitem(FEATURES, "sloppy_zero", SloppyZero)
    report = check_feature(SloppyZero(), n_random=200, engine_steps=3)
    assert not report.ok and report.n_mismatches > 0
    m = report.mismatches[0]
    assert m.context.weight == 0.0 and (m.local, m.batch) == (1, 0)
    assert any(m.source.startswith("engine") for m in report.mismatches)  # bias synapses start at exactly 0
    assert "local=1 batch=0" in str(report)


def test_float32_comparison_slip_is_caught():
    report = check_feature(Float32Threshold(), n_random=300, engine_steps=0)
    assert not report.ok
    assert all(m.source == "random float32" for m in report.mismatches)


def test_out_of_range_and_unregistered_features_are_problems():
    report = check_feature(OutOfRange(), n_random=20, engine_steps=2)
    assert not report.ok
    assert "outside [0, 2)" in str(report)
    assert any("not registered" in p for p in report.problems)


def test_docstring_example_user_feature(monkeypatch):
    """The example in ``synapse_sim.conformance.features``'s docstring runs as written."""
    import textwrap

    import synapse_sim.conformance.features

    doc = synapse_sim.conformance.features.__doc__
    example = textwrap.dedent(doc[doc.index("::\n") + 3 :])
    monkeypatch.setitem(FEATURES, "is_bias", None)  # undone after the test: the registration does not leak
    exec(compile(example, "synapse_sim.conformance.features example", "exec"), {})
    assert FEATURES["is_bias"].__name__ == "IsBias"


def test_population_context_from_engine_matches_agents():
    """check_feature's per-synapse contexts equal what the agents themselves build."""
    from synapse_sim.conformance.features import synapse_contexts
    from synapse_sim.rules.synaptic_rl.rule import SynapticRL, feature_context

    features = [*PAPER, {"name": "pre_activity"}, {"name": "post_activity"}, {"name": "streak"}]
    scenario = Scenario().with_overrides({"layers": [2, 3, 1], "n_points": 50, "state.features": features})
    vector, model = VectorEngine(scenario), SynapseModel(scenario)
    for _ in range(3):
        vector.step()
        model.step()
    step = vector.step_count
    topology = vector.simulation.topology
    ctx = vector.population.context(step, neurons=vector.simulation.neurons)
    built = synapse_contexts(feature_context(ctx, topology))
    agents = [model.rule.synapse_context(agent.context()) for agent in model.synapses]
    assert built == agents
    assert isinstance(model.rule, SynapticRL)
    assert isinstance(feature_context(vector.population.context(step), topology), PopulationContext)
    # the synapse's place and its last exploration, the same in both views
    assert [(c.layer, c.pre, c.post) for c in agents] == [(a.layer, a.pre[1], a.post[1]) for a in model.synapses]
    assert [c.explored for c in agents] == list(ctx.memory["explored"])
    assert any(c.explored for c in agents) and not all(c.explored for c in agents)
    assert all(c.memory.keys() >= {"action_history", "reward_history", "streak", "explored"} for c in agents)


# --- the two views stay identical with every shipped combination ------------------------

COMBINATIONS = {
    "paper": PAPER,
    "paper+streak": [*PAPER, {"name": "streak", "cap": 3}],
    "paper+pre+post": [*PAPER, {"name": "pre_activity"}, {"name": "post_activity"}],
    "paper+weight_sign": [*PAPER, {"name": "weight_sign"}],
    "all": [
        {"name": "last_actions", "n": 1},
        {"name": "last_rewards", "n": 2},
        {"name": "streak", "cap": 2},
        {"name": "weight_sign", "tol": 1e-3},
        {"name": "pre_activity", "bins": 2, "edges": [0.5]},
        {"name": "post_activity", "absolute": False},
    ],
}


@pytest.mark.parametrize("name", list(COMBINATIONS))
@pytest.mark.parametrize("activation, dtype", [("tanh", "float64"), ("relu", "float32")])
def test_mirror_with_feature_combinations(name, activation, dtype):
    scenario = Scenario().with_overrides(
        {
            "layers": [2, 6, 1],
            "n_points": 100,
            "state.features": COMBINATIONS[name],
            "hidden_activation": activation,
            "dtype": dtype,
            "alpha_s": 0.01,
            "run.seed": 5,
        }
    )
    vector, model = VectorEngine(scenario), SynapseModel(scenario, rng=3)
    for _ in range(30):
        assert np.array_equal(states(vector), states(model))
        vector.step()
        model.step()
    va, ma = vector.checkpoint(), model.checkpoint()
    assert va.keys() == ma.keys()
    for key in va:
        assert va[key].dtype == ma[key].dtype, key
        assert np.array_equal(va[key], ma[key]), key
    assert vector.simulation.rule.policy.q.any()


# --- the two slips local/batch agreement cannot see ------------------------------------------------------------
class NetDriftUndeclared(Feature):
    """Reads the last 4 actions but declares none: in a run it would see 2 (the paper features' declaration)."""

    name = "net_drift_undeclared"
    cardinality = 3

    def local(self, ctx):
        return int(np.sign(sum(a - 1 for a in ctx.action_history[:4]))) + 1

    def batch(self, ctx):
        return (np.sign((ctx.action_history[:, :4].astype(np.int64) - 1).sum(axis=1)) + 1).astype(np.int64)


class NetDriftNoParams(NetDriftUndeclared):
    """Declares its memory but keeps k out of spec(): k=3 and k=6 would compare (and save) equal."""

    name = "net_drift_no_params"

    def __init__(self, k: int = 4):
        self.k = int(k)
        self.action_memory = self.k

    def local(self, ctx):
        return int(np.sign(sum(a - 1 for a in ctx.action_history[: self.k]))) + 1

    def batch(self, ctx):
        drift = (ctx.action_history[:, : self.k].astype(np.int64) - 1).sum(axis=1)
        return (np.sign(drift) + 1).astype(np.int64)


class NetDrift(NetDriftNoParams):
    name = "net_drift_good"

    def params(self):
        return {"k": self.k}


def test_a_feature_reading_undeclared_history_fails_and_is_told_what_to_declare(monkeypatch):
    monkeypatch.setitem(FEATURES, NetDriftUndeclared.name, NetDriftUndeclared)
    feature = NetDriftUndeclared()
    assert check_feature(feature, n_random=0, engine_steps=0).problems  # caught without the other checks too
    report = check_feature(feature, n_random=100, engine_steps=2)
    assert report.n_mismatches == 0  # local and batch agree: only the new check can see it
    assert any("reads more past actions than it declares (action_memory = 0)" in p for p in report.problems)
    assert any("set action_memory = 4" in p for p in report.problems)


def test_a_parameter_missing_from_spec_fails(monkeypatch):
    monkeypatch.setitem(FEATURES, NetDriftNoParams.name, NetDriftNoParams)
    assert NetDriftNoParams(3) == NetDriftNoParams(6)  # the trap: equal, and a policy file would lose k
    report = check_feature(NetDriftNoParams(3), n_random=100, engine_steps=2)
    assert any("parameter 'k' does not reach spec()" in p and "return it from params()" in p for p in report.problems)
    assert not any("reads more past" in p for p in report.problems)


def test_the_same_feature_done_right_passes(monkeypatch):
    monkeypatch.setitem(FEATURES, NetDrift.name, NetDrift)
    report = check_feature(NetDrift(3), n_random=100, engine_steps=3)
    assert report.ok, str(report)
    assert NetDrift(3) != NetDrift(6)
