"""The rule protocol: conformance of every shipped rule, the registry, and refusals of bad input."""

from typing import ClassVar

import numpy as np
import pytest

from synapse_sim import RULES, Rule, Scenario, ScenarioError, VectorEngine, check_rule, register_rule
from synapse_sim.rules import Change, MemoryField, Pass, rule_class
from synapse_sim.rules.error_backprop import ErrorBackprop
from synapse_sim.rules.keep_or_revert import KeepOrRevert
from synapse_sim.rules.momentum_search import MomentumSearch
from synapse_sim.rules.node_perturbation import NodePerturbation
from synapse_sim.rules.nrl import Nrl
from synapse_sim.rules.qagrel import QAgrel
from synapse_sim.rules.reinforce import Reinforce
from synapse_sim.rules.rmhl import Rmhl
from synapse_sim.rules.spiking import SpikingAgents
from synapse_sim.rules.spsa import SPSA
from synapse_sim.rules.synaptic_rl import Policy, StateSpace, SynapticRL

SHIPPED = {
    "synaptic_rl": lambda: SynapticRL(Policy(StateSpace.paper(), epsilon=0.3), alpha_s=0.01),
    "synaptic_rl_running_average": lambda: SynapticRL(
        Policy(StateSpace.paper(), epsilon=0.3), alpha_s=0.01, reward_baseline="running_average"
    ),
    "spsa": lambda: SPSA(a=0.05, c=0.01),
    "spsa_standard": lambda: SPSA(a=0.05, c=0.01, schedule="standard", stability=10.0),
    "spsa_cut": lambda: SPSA(a=0.05, c=0.01, a_schedule=[[2, 0.005]]),
    "spsa_sign": lambda: SPSA(a=0.05, c=0.01, broadcast="sign"),
    "keep_or_revert": lambda: KeepOrRevert(a=0.05),
    "keep_or_revert_one_fifth": lambda: KeepOrRevert(a=0.05, adapt_rate=5 / 12),
    "momentum_search": lambda: MomentumSearch(c=0.05, beta=0.7, rho_kept=0.6, rho_dropped=0.9, eta=0.3),
    "momentum_search_real": lambda: MomentumSearch(
        c=0.05, decay=0.01, beta=0.7, rho_kept=0.6, rho_dropped=0.9, eta=0.3, broadcast="real"
    ),
    "node_perturbation": lambda: NodePerturbation(sigma=0.05, eta=0.5),
    "node_perturbation_cut": lambda: NodePerturbation(sigma=0.05, eta=0.5, eta_schedule=[[2, 0.05]]),
    "node_perturbation_minibatch": lambda: NodePerturbation(sigma=0.05, eta=0.5, per_example=False),
    "error_backprop": lambda: ErrorBackprop(learning_rate=0.1),
    "qagrel": lambda: QAgrel(alpha=0.5, exploration=0.2),
    "qagrel_learned": lambda: QAgrel(alpha=0.5, exploration=0.2, feedback="learned"),
    "qagrel_fixed": lambda: QAgrel(alpha=0.5, exploration=0.2, feedback="fixed"),
    "reinforce": lambda: Reinforce(eta=0.05),
    "nrl": lambda: Nrl(eta=0.5, sigma=1e-3),
    "nrl_by_width": lambda: Nrl(eta=0.05, scale_by_width=True),
    "rmhl": lambda: Rmhl(eta=0.05, sigma=0.1),
    "spiking": lambda: SpikingAgents(alpha=0.01, fourier_order=2),
    "spiking_target_credit": lambda: SpikingAgents(alpha=0.01, credit="target", fourier_order=1, trace_decay=0.9),
}


def test_every_registered_rule_is_checked_here():
    assert {make().name for make in SHIPPED.values()} == set(RULES)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_check_rule_passes_for_every_shipped_rule(name):
    report = check_rule(SHIPPED[name]())
    assert report.ok, str(report)
    assert report.n_checked > 1000


class BrokenSignSPSA(SPSA):
    """The batch form steps with the broadcast's sign flipped on bias synapses: check_rule must notice."""

    name = "broken_sign_spsa_test"

    def update_batch(self, ctx):
        change = super().update_batch(ctx)
        return Change(dw=np.where(ctx.is_bias, -change.dw, change.dw))


class Float64LocalSPSA(SPSA):
    """The local form computes in float64: the agent's weight would change dtype."""

    name = "float64_local_spsa_test"

    def update_local(self, ctx):
        return Change(dw=float(-self.a * ctx.broadcast * ctx.memory["perturbation"]))


@pytest.mark.parametrize("broken", [BrokenSignSPSA, Float64LocalSPSA])
def test_check_rule_finds_a_disagreement(broken):
    report = check_rule(broken(a=0.05, c=0.01), mirror_steps=3)
    assert not report.ok
    assert "update" in str(report)


def test_register_rule_refuses_a_duplicate_name():
    class Other(Rule):
        name = "spsa"

    with pytest.raises(ValueError, match="already registered"):
        register_rule(Other)


def test_unknown_rule_name_is_refused_with_a_hint():
    with pytest.raises(ScenarioError, match=r"run.method.*'spsaa'.*did you mean 'spsa'"):
        Scenario().with_overrides({"run.method": "spsaa"})
    with pytest.raises(ValueError, match="did you mean 'node_perturbation'"):
        rule_class("node_perturbaton")


def test_parameters_of_another_rule_are_refused_by_name():
    with pytest.raises(ScenarioError, match=r"'spsa.a' belongs to the method 'spsa'.*run.method = 'synaptic_rl'"):
        Scenario().with_overrides({"spsa.a": 0.01})
    with pytest.raises(ScenarioError, match=r"'synapse.alpha_s' belongs to the method 'synaptic_rl'"):
        Scenario().with_overrides({"run.method": "spsa", "synapse.alpha_s": 0.01})


def test_a_policy_file_given_to_a_rule_without_one_is_refused():
    with pytest.raises(ScenarioError, match=r"'policy.file' belongs to the method 'synaptic_rl'.*'node_perturbation'"):
        Scenario().with_overrides({"run.method": "node_perturbation", "policy.file": "shipped"})


@pytest.mark.parametrize(("key", "value"), [("spsa.a", float("inf")), ("spsa.c", float("nan")), ("spsa.a", -1.0)])
def test_a_non_finite_or_negative_gain_is_refused_by_name(key, value):
    with pytest.raises(ScenarioError, match=key.replace(".", r"\.")):
        Scenario().with_overrides({"run.method": "spsa", key: value})


def test_spsa_steps_against_the_loss_difference():
    """One SPSA step by hand: w - a * (L+ - L-) / 2c * Delta, the two passes at w +- c Delta."""
    scenario = Scenario().with_overrides(
        {"layers": [2, 5, 1], "n_points": 100, "run.method": "spsa", "spsa.a": 0.1, "spsa.c": 0.01}
    )
    engine = VectorEngine(scenario)
    w0 = engine.population.weights.copy()
    result = engine.step()
    delta = engine.population.state["perturbation"].astype(np.float64)
    assert set(np.unique(delta)) == {-1.0, 1.0}
    task, topo = engine.simulation.task, engine.simulation.topology
    plus = task.evaluate(topo.matrices(w0 + 0.01 * delta), 1).loss
    minus = task.evaluate(topo.matrices(w0 - 0.01 * delta), 1).loss
    g = (plus - minus) / 0.02
    assert result.reward == pytest.approx(g)
    np.testing.assert_allclose(engine.population.weights, w0 - 0.1 * g * delta)
    assert result.evaluations == 2 and result.loss == pytest.approx((plus + minus) / 2)


def test_sign_spsa_broadcasts_one_bit_and_steps_a_per_synapse():
    settings = {"layers": [2, 5, 1], "n_points": 100, "run.method": "spsa", "spsa.a": 0.1, "spsa.c": 0.01}
    real = VectorEngine(Scenario().with_overrides(settings))
    sign = VectorEngine(Scenario().with_overrides({**settings, "spsa.broadcast": "sign"}))
    w0 = sign.population.weights.copy()
    g, bit = real.step().reward, sign.step().reward
    assert bit == np.sign(g) != 0
    delta = sign.population.state["perturbation"].astype(np.float64)
    np.testing.assert_allclose(sign.population.weights, w0 - 0.1 * bit * delta)


def test_spsa_standard_schedule_decays_both_gains():
    rule = SPSA(a=1.0, c=1.0, schedule="standard", stability=9.0)
    assert rule.gains(1) == (1.0 / 10**0.602, 1.0)
    a_t, c_t = rule.gains(101)
    assert a_t == pytest.approx(1 / 110**0.602) and c_t == pytest.approx(1 / 101**0.101)


def test_spsa_a_schedule_cuts_the_step_under_either_schedule():
    constant = SPSA(a=0.05, c=0.01, a_schedule=[[3, 0.005]])
    assert [constant.gains(t)[0] for t in (1, 2, 3, 9)] == [0.05, 0.05, 0.005, 0.005]
    standard = SPSA(a=1.0, c=1.0, schedule="standard", stability=9.0, a_schedule=[[3, 0.1]])
    assert standard.gains(2)[0] == pytest.approx(1 / 11**0.602) and standard.gains(3)[0] == pytest.approx(
        0.1 / 12**0.602
    )
    settings = {"layers": [2, 5, 1], "n_points": 100, "run.method": "spsa", "spsa.a": 0.1, "spsa.c": 0.01}
    engine = VectorEngine(Scenario().with_overrides({**settings, "spsa.a_schedule": [[2, 0.01]]}))
    results = engine.run(3)
    assert [r.step_size for r in results] == [0.1, 0.01, 0.01]
    w1 = engine.population.weights.copy()
    g = engine.step().reward
    delta = engine.population.state["perturbation"].astype(np.float64)
    np.testing.assert_allclose(engine.population.weights, w1 - 0.01 * g * delta)


def test_node_perturbation_eta_schedule_cuts_the_step():
    settings = {"layers": [2, 5, 1], "n_points": 100, "run.method": "node_perturbation", "node_perturbation.eta": 0.5}
    engine = VectorEngine(Scenario().with_overrides({**settings, "node_perturbation.eta_schedule": [[2, 0.05]]}))
    first = engine.step()
    w1 = engine.population.weights.copy()
    second = engine.step()
    assert (first.step_size, second.step_size) == (0.5, 0.05)
    np.testing.assert_allclose(engine.population.weights - w1, 0.05 * engine.population.state["eligibility"])


def test_node_perturbation_estimates_the_gradient():
    """Averaged over many noise draws, the node-perturbation update points along -dL/dw."""
    from synapse_sim.baselines.gradient import loss_and_gradients

    scenario = Scenario().with_overrides(
        {
            "layers": [784, 10],
            "hidden_activation": "relu",
            "run.method": "node_perturbation",
            "node_perturbation.sigma": 1e-3,
            "node_perturbation.eta": 1.0,
        }
    )
    from conftest import random_classification_task

    task = random_classification_task(batch_size=450, batch_interval=10**9)
    engine = VectorEngine(scenario, task=task)
    w0 = engine.population.weights.copy()
    x_t, y = task.batch(1)
    grads = loss_and_gradients(engine.simulation.topology.matrices(w0), x_t[:-1].T, y).gradients
    true = -np.concatenate([g.ravel() for g in grads])
    updates = []
    for _ in range(200):
        engine.population.weights[...] = w0
        engine.step()
        updates.append(engine.population.weights - w0)
    mean = np.mean(updates, axis=0)
    cosine = mean @ true / np.linalg.norm(mean) / np.linalg.norm(true)
    assert cosine > 0.9, cosine


def test_node_perturbation_memory_is_the_eligibility_it_stepped_by():
    scenario = Scenario().with_overrides(
        {"layers": [2, 5, 1], "n_points": 100, "run.method": "node_perturbation", "node_perturbation.eta": 0.5}
    )
    engine = VectorEngine(scenario)
    w0 = engine.population.weights.copy()
    result = engine.step()
    np.testing.assert_allclose(engine.population.weights - w0, 0.5 * engine.population.state["eligibility"])
    assert result.evaluations == 2


def test_a_user_rule_runs_in_both_views():
    """A rule written outside the package: sign-SPSA, registered, checked and run."""

    @register_rule
    class SignSPSATest(SPSA):
        name = "sign_spsa_test"
        sections: ClassVar[dict] = {}

        @classmethod
        def from_scenario(cls, scenario, topology, dtype):
            return cls(a=0.01, c=0.01)

        def broadcast(self, evaluations, step):
            return float(np.sign(super().broadcast(evaluations, step)))

    try:
        assert check_rule(SignSPSATest(a=0.01, c=0.01)).ok
        engine = VectorEngine(Scenario().with_overrides({"layers": [2, 5, 1], "run.method": "sign_spsa_test"}))
        assert engine.step().reward in (-1.0, 1.0)
    finally:
        RULES.pop("sign_spsa_test")
        from synapse_sim import scenario as scenario_module

        scenario_module.METHODS.pop("sign_spsa_test")


def test_rule_memory_fields_and_passes_are_declared():
    for make in SHIPPED.values():
        rule = make()
        assert all(isinstance(f, MemoryField) for f in rule.memory_fields())
        assert all(isinstance(p, Pass) for p in rule.passes(1))
