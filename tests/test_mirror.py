"""The agent view and the vectorised backend produce the same trajectory, bit for bit, for every rule."""

import numpy as np
import pytest
from conftest import random_classification_task, states

from synapse_sim import RULES, Scenario, VectorEngine
from synapse_sim.model import SynapseModel

RULE_SETTINGS = {
    "synaptic_rl": {},
    "spsa": {"spsa.a": 0.05, "spsa.c": 0.01},
    "keep_or_revert": {"keep_or_revert.a": 0.05},
    "momentum_search": {
        "momentum_search.c": 0.05,
        "momentum_search.decay": 0.01,
        "momentum_search.beta": 0.7,
        "momentum_search.rho_kept": 0.6,
        "momentum_search.rho_dropped": 0.9,
        "momentum_search.eta": 0.3,
        "momentum_search.broadcast": "real",
    },
    "node_perturbation": {"node_perturbation.sigma": 0.05, "node_perturbation.eta": 0.5},
    "qagrel": {"task.name": "notmnist", "qagrel.alpha": 0.5, "qagrel.exploration": 0.2},
    "error_backprop": {"task.name": "notmnist", "backprop.learning_rate": 0.1},
    "reinforce": {"task.name": "control", "reinforce.eta": 0.05},
    "nrl": {"task.name": "control", "nrl.eta": 0.5},
    "rmhl": {"task.name": "control", "rmhl.eta": 0.05, "rmhl.sigma": 0.2},
    "spiking": {"task.name": "control", "spiking.alpha": 0.05, "spiking.fourier_order": 2},
}
# rules whose outputs are classes (Q-AGREL) or a policy over an environment's actions run their
# own twins of the boundary tests below
CONTROL_RULES = sorted(name for name in RULE_SETTINGS if RULES[name].needs_episodes)
BOUNDARY_RULES = sorted(name for name in RULE_SETTINGS if not RULES[name].needs_classes and name not in CONTROL_RULES)
CLASS_RULES = sorted(name for name in RULE_SETTINGS if RULES[name].needs_classes)
DATA_RULES = sorted(name for name in RULE_SETTINGS if name not in CONTROL_RULES)


def with_rule(scenario: Scenario, name: str) -> Scenario:
    return scenario.with_overrides({"run.method": name, **RULE_SETTINGS[name]})


def test_every_registered_rule_has_mirror_settings():
    assert set(RULE_SETTINGS) == set(RULES)


def run_both(scenario, steps, task_factory=None, activation="shuffle", rng=None):
    vector = VectorEngine(scenario, task=task_factory() if task_factory else None)
    model = SynapseModel(scenario, task=task_factory() if task_factory else None, activation=activation, rng=rng)
    synaptic = scenario["run"]["method"] == "synaptic_rl"
    for _ in range(steps):
        if synaptic:
            assert np.array_equal(states(model), states(vector))
        a = vector.step()
        model.step()
        b = model.last_result
        assert (a.loss, a.reward, a.accuracy, a.evaluations) == (b.loss, b.reward, b.accuracy, b.evaluations)
        assert np.array_equal(vector.population.actions(), model.action_log[-1])
    return vector, model


def assert_same_state(vector, model):
    va, ma = vector.checkpoint(), model.checkpoint()
    assert va.keys() == ma.keys()
    for key in va:
        assert va[key].dtype == ma[key].dtype, key
        assert np.array_equal(va[key], ma[key]), key


def test_mirror_decision_boundary_adaptive_300_steps():
    scenario = Scenario().with_overrides({"run.seed": 7})
    vector, model = run_both(scenario, 300)
    assert_same_state(vector, model)
    assert vector.simulation.rule.policy.q.any()
    history = model.datacollector.get_model_vars_dataframe()
    assert len(history) == 301 and set(history.columns) >= {"loss", "accuracy", "reward", "increment"}


@pytest.mark.parametrize("rule", BOUNDARY_RULES)
def test_mirror_every_rule_on_the_boundary(rule):
    scenario = with_rule(Scenario().with_overrides({"layers": [2, 10, 1], "n_points": 300, "run.seed": 3}), rule)
    vector, model = run_both(scenario, 40)
    assert_same_state(vector, model)
    assert not np.array_equal(vector.population.weights, vector.simulation.initial_weights())


@pytest.mark.parametrize("rule", DATA_RULES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mirror_784_10_random_data(rule, dtype):
    scenario = Scenario().with_overrides(
        {"layers": [784, 10], "hidden_activation": "relu", "dtype": dtype, "alpha_s": 1e-3, "epsilon": 0.1}
        if rule == "synaptic_rl"
        else {"layers": [784, 10], "hidden_activation": "relu", "dtype": dtype}
    )
    factory = lambda: random_classification_task(dtype=np.dtype(dtype))  # noqa: E731
    vector, model = run_both(with_rule(scenario, rule), 5, factory)
    assert model.topology.n_synapses == 7850
    assert_same_state(vector, model)


@pytest.mark.parametrize("rule", DATA_RULES)
def test_mirror_with_hidden_layer_and_batch_changes(rule):
    base = {"layers": [784, 4, 10], "hidden_activation": "relu"}
    if rule == "synaptic_rl":
        base["alpha_s"] = 1e-3
    vector, model = run_both(with_rule(Scenario().with_overrides(base), rule), 7, random_classification_task)
    assert_same_state(vector, model)


@pytest.mark.parametrize("rule", BOUNDARY_RULES)
def test_activation_order_does_not_matter(rule):
    scenario = with_rule(Scenario().with_overrides({"layers": [2, 10, 1], "run.seed": 3}), rule)
    _, shuffled = run_both(scenario, 60, activation="shuffle", rng=11)
    _, other_shuffle = run_both(scenario, 60, activation="shuffle", rng=12)
    _, reverse = run_both(scenario, 60, activation="reverse")
    assert_same_state(shuffled, other_shuffle)
    assert_same_state(shuffled, reverse)


@pytest.mark.parametrize(
    ("rule", "feedback"),
    [(r, f) for r in CLASS_RULES for f in (["symmetric", "learned", "fixed"] if r == "qagrel" else [None])],
)
def test_mirror_classification_rules_in_any_activation_order(rule, feedback):
    """The boundary tests' twin for rules that need classes (every Q-AGREL feedback variant), three agent orders."""
    base = Scenario().with_overrides({"layers": [784, 5, 10], "hidden_activation": "relu", "run.seed": 3})
    scenario = with_rule(base, rule)
    if feedback is not None:
        scenario = scenario.with_overrides({"qagrel.feedback": feedback})
    vector, shuffled = run_both(scenario, 8, random_classification_task, activation="shuffle", rng=11)
    _, reverse = run_both(scenario, 8, random_classification_task, activation="reverse")
    assert_same_state(vector, shuffled)
    assert_same_state(shuffled, reverse)
    assert not np.array_equal(vector.population.weights, vector.simulation.initial_weights())


@pytest.mark.parametrize("rule", CONTROL_RULES)
def test_mirror_control_rules_on_cartpole_in_any_activation_order(rule):
    """Episodes of CartPole-v1: the same returns, weights, eligibilities and return baseline in both views."""
    base = Scenario().with_overrides(
        {"layers": [4, 8, 2], "hidden_activation": "leaky_relu", "init_range": 0.3, "run.seed": 5}
    )
    scenario = with_rule(base, rule)
    vector, shuffled = run_both(scenario, 12, activation="shuffle", rng=11)
    _, reverse = run_both(scenario, 12, activation="reverse")
    assert_same_state(vector, shuffled)
    assert_same_state(shuffled, reverse)
    assert not np.array_equal(vector.population.weights, vector.simulation.initial_weights())
    assert vector.checkpoint()["return_baseline"] > 0
