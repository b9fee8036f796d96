"""Keep-or-revert random search: the step is kept exactly when the tried network's loss beat the kept one's."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_classification_task, small_scenario

from synapse_sim import VectorEngine
from synapse_sim.engine.simulation import Simulation
from synapse_sim.randomness import STREAM_STEP, generator


def scenario(**overrides):
    return small_scenario(**{"run.method": "keep_or_revert", "keep_or_revert.a": 0.05, **overrides})


def test_each_step_keeps_the_tried_network_exactly_when_its_loss_fell():
    """Replayed from outside: the tried weights w + a Delta, their loss on the step's minibatch, the bit."""
    task = random_classification_task(n_in=20, n_classes=3, n=120, batch_size=30, batch_interval=4)
    engine = VectorEngine(scenario(layers=[20, 5, 3], hidden_activation="relu"), task=task)
    judge = Simulation(engine.simulation.scenario, task=task)  # evaluates without touching the run
    reference = judge.evaluate(engine.population.weights.copy(), 1).loss
    kept = 0
    for t in range(1, 41):
        before = engine.population.weights.copy()
        if t > 1 and task.batch_id(t) != task.batch_id(t - 1):
            reference = judge.evaluate(before, t).loss  # the kept network on the new minibatch
        delta = engine.simulation.rule.draw(generator(engine.simulation.seed, STREAM_STEP, t), before.size, t)
        tried = before + np.float64(0.05) * delta["perturbation"]
        loss = judge.evaluate(tried, t).loss
        result = engine.step()
        if loss < reference:
            kept += 1
            reference = loss
            assert result.reward == 1 and np.array_equal(engine.population.weights, tried)
        else:
            assert result.reward == -1 and np.array_equal(engine.population.weights, before)
        assert result.loss == loss
    assert 0 < kept < 40
    batches = len({task.batch_id(t) for t in range(1, 41)})
    assert engine.simulation.evaluations == 40 + batches  # one pass a step, one reference per minibatch


def test_it_learns_the_decision_boundary_and_resumes_exactly(tmp_path):
    engine = VectorEngine(scenario(iterations=600))
    first = engine.step().accuracy
    results = engine.run(599)
    assert results[-1].accuracy > first + 0.1
    again = VectorEngine(scenario(iterations=600))
    again.run(300)
    resumed = VectorEngine(scenario(iterations=600))
    resumed.restore(again.checkpoint())
    resumed.run(300)
    np.testing.assert_array_equal(resumed.population.weights, engine.population.weights)


def test_a_zero_step_is_refused_with_the_key():
    with pytest.raises(Exception, match="keep-or-revert step is 0"):
        scenario(**{"keep_or_revert.a": 0.0})


def test_keep_or_revert_is_momentum_search_without_a_velocity():
    """theta = (a, 0, 0, 0, 0) of the parametric family is the yardstick, step for step and bit for bit."""
    plain = VectorEngine(scenario(iterations=200))
    family = VectorEngine(
        small_scenario(**{"run.method": "momentum_search", "momentum_search.c": 0.05, "iterations": 200})
    )
    for _ in range(200):
        a, b = plain.step(), family.step()
        assert (a.reward == 1) == (b.reward < 0) and a.loss == b.loss
    np.testing.assert_array_equal(plain.population.weights, family.population.weights)
    assert plain.simulation.evaluations == family.simulation.evaluations


def test_a_velocity_changes_the_search_and_stays_exact_across_a_resume():
    settings = {"run.method": "momentum_search", "momentum_search.c": 0.05, "momentum_search.beta": 0.8}
    settings.update({"momentum_search.rho_kept": 0.7, "momentum_search.rho_dropped": 0.9, "iterations": 300})
    settings.update({"momentum_search.eta": 0.5, "momentum_search.broadcast": "real", "momentum_search.decay": 0.01})
    engine = VectorEngine(small_scenario(**settings))
    engine.run(300)
    assert np.any(engine.population.state["velocity"] != 0)
    half = VectorEngine(small_scenario(**settings))
    half.run(150)
    resumed = VectorEngine(small_scenario(**settings))
    resumed.restore(half.checkpoint())
    resumed.run(150)
    np.testing.assert_array_equal(resumed.population.weights, engine.population.weights)
    np.testing.assert_array_equal(resumed.population.state["velocity"], engine.population.state["velocity"])


def test_the_one_fifth_rule_grows_the_step_on_a_kept_bit_and_shrinks_it_on_a_reverted_one():
    """The step each step tried, replayed from the bits: a_{t+1} = a_t exp(k (kept - p)); kept = tried, still."""
    k, p = 5 / 12, 0.2
    engine = VectorEngine(scenario(**{"keep_or_revert.adapt_rate": k, "iterations": 120}))
    a = 0.05
    for t in range(1, 121):
        before = engine.population.weights.copy()
        delta = engine.simulation.rule.draw(generator(engine.simulation.seed, STREAM_STEP, t), before.size, t)
        result = engine.step()
        assert result.step_size == a
        tried = before + np.float64(a) * delta["perturbation"]
        assert np.array_equal(engine.population.weights, tried if result.reward == 1 else before)
        a *= float(np.exp(k * ((result.reward == 1) - p)))
    assert engine.simulation.rule.step_now == a != 0.05


def test_the_adapted_step_is_the_same_in_both_views_and_across_a_resume():
    from test_mirror import assert_same_state, run_both

    adapted = scenario(**{"keep_or_revert.adapt_rate": 0.5, "keep_or_revert.target_success": 0.3, "iterations": 80})
    vector, model = run_both(adapted, 40)
    assert_same_state(vector, model)
    assert vector.checkpoint()["step_now"] != 0.05
    straight = VectorEngine(adapted)
    straight.run(80)
    resumed = VectorEngine(adapted)
    resumed.restore(vector.checkpoint())
    resumed.run(40)
    np.testing.assert_array_equal(resumed.population.weights, straight.population.weights)
    assert resumed.simulation.rule.step_now == straight.simulation.rule.step_now


def test_a_success_rule_outside_its_range_is_refused_with_the_key():
    with pytest.raises(Exception, match="target_success"):
        scenario(**{"keep_or_revert.adapt_rate": 0.4, "keep_or_revert.target_success": 1.5})
