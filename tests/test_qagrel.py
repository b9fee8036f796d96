"""Q-AGREL: trials, one broadcast RPE per trial, tags of pre activity x gated feedback from the selected output."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from synapse_sim import Scenario, ScenarioError, VectorEngine, check_rule
from synapse_sim.randomness import STREAM_BATCH, generator
from synapse_sim.rules.qagrel import QAgrel
from synapse_sim.tasks import ClassificationTask
from synapse_sim.tasks.trials import select_actions


def blobs_task(n_in=6, n_classes=4, n=400, seed=0, batch_size=50, activation="relu", dtype=np.float64):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    centres = rng.normal(scale=2.0, size=(n_classes, n_in))
    x = centres[labels] + rng.normal(scale=0.8, size=(n, n_in))
    split = n * 3 // 4
    return ClassificationTask(
        x[:split],
        labels[:split],
        x[split:],
        labels[split:],
        functools.partial(generator, seed, STREAM_BATCH),
        batch_size=batch_size,
        batch_interval=1,
        hidden_activation=activation,
        dtype=np.dtype(dtype),
    )


def scenario(layers, **qagrel) -> Scenario:
    keys = {f"qagrel.{k}": v for k, v in qagrel.items()}
    return Scenario().with_overrides(
        {"task.name": "notmnist", "run.method": "qagrel", "layers": layers, "hidden_activation": "relu", **keys}
    )


@pytest.mark.parametrize("feedback", ["symmetric", "learned", "fixed"])
def test_check_rule_passes_for_every_feedback_variant(feedback):
    report = check_rule(QAgrel(alpha=0.5, exploration=0.2, feedback=feedback))
    assert report.ok, str(report)


def backprop_step(weights, x_t, labels, alpha):
    """One step of plain backprop on E = mean_n 0.5 * (r_n - q_s,n)^2 with s the greedy action (ReLU MLP)."""
    h, inputs, zs = x_t, [], []
    for index, w in enumerate(weights):
        inputs.append(h)
        z = w.T @ h
        zs.append(z)
        h = z if index == len(weights) - 1 else np.vstack([np.maximum(z, 0), np.ones((1, z.shape[1]))])
    q = h
    n = labels.size
    s = q.argmax(axis=0)
    r = (s == labels).astype(float)
    delta = np.zeros_like(q)
    delta[s, np.arange(n)] = -(r - q[s, np.arange(n)]) / n  # dE/dq
    grads = [None] * len(weights)
    for index in range(len(weights) - 1, -1, -1):
        grads[index] = inputs[index] @ delta.T
        if index:
            delta = (weights[index][:-1] @ delta) * (zs[index - 1] > 0)
    return [w - alpha * g for w, g in zip(weights, grads, strict=True)], r


def test_symmetric_update_with_no_exploration_is_one_backprop_step():
    """The paper's equivalence: with feedback = forward weights and epsilon = 0, one update is backprop
    of 0.5 * (r - q_s)^2 on the selected output (to float64 rounding)."""
    task = blobs_task()
    engine = VectorEngine(scenario([6, 8, 5, 4], alpha=0.7, exploration=0.0), task=task)
    before = [w.copy() for w in engine.weight_matrices()]
    x_t, labels = task.batch(1)
    expected, rewards = backprop_step(before, x_t, labels, 0.7)
    result = engine.step()
    for got, want in zip(engine.weight_matrices(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.abs(expected[0] - before[0]).max() > 1e-4  # the step moved the first layer: feedback reached it
    assert result.reward == pytest.approx(rewards.mean())  # the records show the mean reward per trial


def test_the_backprop_reference_is_itself_right():
    """Finite differences of E confirm the reference step used above."""
    task = blobs_task(seed=3)
    engine = VectorEngine(scenario([6, 5, 4]), task=task)
    weights = [w.copy() for w in engine.weight_matrices()]
    x_t, labels = task.batch(1)

    def energy(ws):
        h = x_t
        for index, w in enumerate(ws):
            z = w.T @ h
            h = z if index == len(ws) - 1 else np.vstack([np.maximum(z, 0), np.ones((1, z.shape[1]))])
        s = h.argmax(axis=0)
        r = (s == labels).astype(float)
        return 0.5 * np.mean((r - h[s, np.arange(labels.size)]) ** 2)

    stepped, _ = backprop_step(weights, x_t, labels, 1.0)
    for layer, (i, j) in ((0, (2, 1)), (1, (3, 2)), (1, (5, 0))):
        eps = 1e-6
        plus = [w.copy() for w in weights]
        plus[layer][i, j] += eps
        minus = [w.copy() for w in weights]
        minus[layer][i, j] -= eps
        numeric = (energy(plus) - energy(minus)) / (2 * eps)
        assert weights[layer][i, j] - stepped[layer][i, j] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_max_boltzmann_selection_is_greedy_without_exploration_and_samples_with_it():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 2000))
    assert np.array_equal(select_actions(q, 0.0, 1.0, np.random.default_rng(1)), q.argmax(axis=0))
    explored = select_actions(q, 1.0, 1.0, np.random.default_rng(1))
    p = np.exp(q) / np.exp(q).sum(axis=0)
    assert abs(np.mean(explored == q.argmax(axis=0)) - np.mean(p.max(axis=0))) < 0.05
    assert set(np.unique(explored)) == {0, 1, 2, 3}


@pytest.mark.parametrize("feedback", ["symmetric", "learned", "fixed"])
def test_each_feedback_variant_learns_the_blobs(feedback):
    task = blobs_task(seed=1)
    engine = VectorEngine(scenario([6, 16, 4], alpha=0.3, feedback=feedback, feedback_scale=0.3), task=task)
    before = task.validate(engine.weight_matrices())["accuracy"]
    engine.run(400)
    after = task.validate(engine.weight_matrices())["accuracy"]
    assert after > 0.9 > before + 0.2


def test_learned_feedback_moves_with_the_forward_weights_and_fixed_feedback_stays():
    for feedback in ("learned", "fixed"):
        engine = VectorEngine(scenario([6, 8, 4], alpha=0.3, feedback=feedback, feedback_scale=0.2), task=blobs_task())
        w0 = engine.population.weights.copy()
        b0 = engine.population.state["feedback_weight"].copy()
        assert np.std(b0[~engine.simulation.topology.is_bias]) > 0.1
        engine.run(30)
        dw = engine.population.weights - w0
        db = engine.population.state["feedback_weight"] - b0
        assert np.abs(dw).max() > 1e-3
        if feedback == "learned":
            np.testing.assert_allclose(db, dw, rtol=1e-9, atol=1e-12)  # dB = dW: W - B stays constant
        else:
            assert not db.any()


def test_bad_scenarios_are_refused_by_name():
    with pytest.raises(ScenarioError, match="needs a classification task"):
        Scenario().with_overrides({"run.method": "qagrel"})
    with pytest.raises(ScenarioError, match="'learned' needs a hidden layer"):
        scenario([784, 10], feedback="learned")
    with pytest.raises(ScenarioError, match=r"qagrel\.alpha"):
        scenario([784, 30, 10], alpha=0.0)
    with pytest.raises(ScenarioError, match=r"qagrel\.feedback"):
        scenario([784, 30, 10], feedback="mirror")
