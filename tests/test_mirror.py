"""The agent view and the vectorised backend produce the same trajectory, bit for bit."""

import numpy as np
import pytest
from conftest import random_classification_task

from synapse_sim import Scenario, VectorEngine
from synapse_sim.model import SynapseModel


def run_both(scenario, steps, task_factory=None, activation="shuffle", rng=None):
    vector = VectorEngine(scenario, task=task_factory() if task_factory else None)
    model = SynapseModel(scenario, task=task_factory() if task_factory else None, activation=activation, rng=rng)
    for _ in range(steps):
        assert np.array_equal(model.simulation.states, vector.simulation.states)
        a = vector.step()
        model.step()
        b = model.last_result
        assert (a.loss, a.reward, a.accuracy) == (b.loss, b.reward, b.accuracy)
        assert np.array_equal(vector.population.actions, model.action_log[-1])
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
    assert vector.simulation.policy.q.any()
    history = model.datacollector.get_model_vars_dataframe()
    assert len(history) == 301 and set(history.columns) >= {"loss", "accuracy", "reward", "increment"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mirror_784_10_random_data(dtype):
    scenario = Scenario().with_overrides(
        {"layers": [784, 10], "hidden_activation": "relu", "dtype": dtype, "alpha_s": 1e-3, "epsilon": 0.1}
    )
    factory = lambda: random_classification_task(dtype=np.dtype(dtype))  # noqa: E731
    vector, model = run_both(scenario, 5, factory)
    assert model.topology.n_synapses == 7850
    assert_same_state(vector, model)


def test_mirror_with_hidden_layer_and_batch_changes():
    scenario = Scenario().with_overrides({"layers": [784, 4, 10], "hidden_activation": "relu", "alpha_s": 1e-3})
    vector, model = run_both(scenario, 7, random_classification_task)
    assert_same_state(vector, model)


def test_activation_order_does_not_matter():
    scenario = Scenario().with_overrides({"layers": [2, 10, 1], "run.seed": 3})
    _, shuffled = run_both(scenario, 60, activation="shuffle", rng=11)
    _, other_shuffle = run_both(scenario, 60, activation="shuffle", rng=12)
    _, reverse = run_both(scenario, 60, activation="reverse")
    assert_same_state(shuffled, other_shuffle)
    assert_same_state(shuffled, reverse)
