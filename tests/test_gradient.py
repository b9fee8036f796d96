"""The gradient-descent baseline: exact gradients, the stopping rule, and learning on notMNIST."""

import itertools

import numpy as np
import pytest

from synapse_sim.baselines.gradient import evaluate, loss_and_gradients, train_gradient_descent
from synapse_sim.engine.simulation import STREAM_INIT, generator
from synapse_sim.engine.topology import Topology, initial_weights
from synapse_sim.tasks import NonFiniteLossError
from synapse_sim.tasks.data import Dataset, load_notmnist, split


def random_net(layers, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, (n_in + 1, n_out)).astype(dtype) for n_in, n_out in itertools.pairwise(layers)]


def random_data(n, n_in, n_classes, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.integers(0, n_classes, n)


def numerical_gradients(weights, x, y, activation, eps=1e-6):
    grads = []
    for w in weights:
        g = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            keep = w[index]
            w[index] = keep + eps
            up = loss_and_gradients(weights, x, y, activation).loss
            w[index] = keep - eps
            down = loss_and_gradients(weights, x, y, activation).loss
            w[index] = keep
            g[index] = (up - down) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize(
    ("layers", "activation"),
    [([6, 5, 3], "relu"), ([6, 5, 3], "tanh"), ([6, 3], "relu"), ([6, 5, 4, 3], "relu")],
)
def test_gradients_match_central_differences(layers, activation):
    weights = random_net(layers)
    x, y = random_data(25, layers[0], layers[-1])
    analytic = loss_and_gradients(weights, x, y, activation).gradients
    numeric = numerical_gradients(weights, x, y, activation)
    for a, n in zip(analytic, numeric, strict=True):
        assert a.shape == n.shape
        assert np.abs(a[-1]).max() > 0  # the bias row takes part
        error = np.linalg.norm(a - n) / (np.linalg.norm(a) + np.linalg.norm(n))
        assert error < 1e-6


def test_loss_is_the_mean_cross_entropy_of_the_biased_forward_pass():
    """Bias in the last row, ReLU hidden units, no output activation, mean over samples."""
    w0, w1 = random_net([6, 5, 3])
    x, y = random_data(25, 6, 3)
    hidden = np.maximum(x @ w0[:-1] + w0[-1], 0)
    logits = hidden @ w1[:-1] + w1[-1]
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    loss, accuracy, _ = loss_and_gradients([w0, w1], x, y)
    assert loss == pytest.approx(-log_p[np.arange(25), y].mean(), rel=1e-12)
    assert accuracy == pytest.approx(np.mean(logits.argmax(axis=1) == y))


def test_float32_stays_float32_and_agrees_with_float64():
    weights = random_net([6, 5, 3])
    x, y = random_data(25, 6, 3)
    exact = loss_and_gradients(weights, x, y).gradients
    single = loss_and_gradients([w.astype(np.float32) for w in weights], x, y).gradients
    for e, s in zip(exact, single, strict=True):
        assert s.dtype == np.float32
        np.testing.assert_allclose(s, e, rtol=1e-4, atol=1e-5)
    result = train_gradient_descent([w.astype(np.float32) for w in weights], x, y, x, y, max_epochs=3)
    assert all(w.dtype == np.float32 for w in result.weights + result.final_weights)


# ---------------------------------------------------------------- stopping rule


def learnable(n=200, seed=2):
    """A linearly separable 3-class problem in 4 dimensions."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = np.argmax(x[:, :3], axis=1)
    return x, y


def test_no_progress_stops_after_patience_evaluations():
    x, y = learnable()
    result = train_gradient_descent(
        random_net([4, 3]), x, y, x, y, learning_rate=0.0, max_epochs=1000, evaluate_every=4, patience=3
    )
    assert result.stopped_by == "plateau"
    assert result.epochs == 12 and result.best_epoch == 0
    np.testing.assert_array_equal(result.history["epoch"], [0, 4, 8, 12])


def test_max_epochs_caps_training_and_is_evaluated():
    x, y = learnable()
    result = train_gradient_descent(
        random_net([4, 3]), x, y, x, y, learning_rate=0.1, max_epochs=7, evaluate_every=3, patience=100
    )
    assert result.stopped_by == "max_epochs" and result.epochs == 7
    np.testing.assert_array_equal(result.history["epoch"], [0, 3, 6, 7])
    assert np.all(np.diff(result.history["train_loss"]) < 0)  # a convex problem, small steps: loss falls
    assert result.best_epoch == 7


def test_small_improvements_do_not_count_but_the_best_weights_are_kept():
    """Losses that fall by less than min_delta (relative) per evaluation are a plateau; the lowest one is returned."""
    x, y = learnable()
    result = train_gradient_descent(
        random_net([4, 3]), x, y, x, y, learning_rate=0.01, max_epochs=1000, evaluate_every=2, patience=4, min_delta=0.5
    )
    val = result.history["val_loss"]
    assert np.all(np.diff(val) < 0)
    assert result.stopped_by == "plateau" and result.epochs == 8
    assert result.best_epoch == 8 and result.best_val_loss == val[-1]
    assert evaluate(result.weights, x, y)[0] == pytest.approx(val[-1], rel=1e-12)


def test_weights_of_the_best_validation_loss_are_returned():
    """Validation labels that contradict the training labels: validation loss only rises, so epoch 0 is best."""
    x, y = learnable()
    weights = random_net([4, 3])
    initial = [w.copy() for w in weights]
    result = train_gradient_descent(weights, x, y, x, (y + 1) % 3, learning_rate=0.5, evaluate_every=5, patience=3)
    assert np.all(np.diff(result.history["val_loss"]) > 0)
    assert result.stopped_by == "plateau" and result.best_epoch == 0 and result.epochs == 15
    for best, start, final, given in zip(result.weights, initial, result.final_weights, weights, strict=True):
        np.testing.assert_array_equal(best, start)
        assert not np.allclose(final, start)
        np.testing.assert_array_equal(given, start)  # the caller's weights are not modified


def test_progress_reports_every_evaluation():
    x, y = learnable()
    seen = []
    result = train_gradient_descent(
        random_net([4, 3]), x, y, x, y, max_epochs=10, evaluate_every=5, progress=seen.append
    )
    assert [r["epoch"] for r in seen] == [0, 5, 10]
    assert [r["val_loss"] for r in seen] == list(result.history["val_loss"])


def test_divergence_is_reported():
    x, y = learnable()
    weights = random_net([4, 3])
    weights[0][0, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match="lower the learning rate"):
        train_gradient_descent(weights, x, y, x, y, max_epochs=5)


def test_bad_shapes_are_refused():
    x, y = learnable()
    with pytest.raises(ValueError, match=r"training data must be \(N, 5\) inputs"):
        train_gradient_descent(random_net([5, 3]), x, y, x, y)
    with pytest.raises(ValueError, match=r"validation labels must be 0\.\.2"):
        train_gradient_descent(random_net([4, 3]), x, y, x, y + 1)


# ---------------------------------------------------------------- notMNIST


def test_short_training_on_the_sample_lowers_the_validation_loss(notmnist_path):
    sample = load_notmnist(notmnist_path)
    keep = np.random.default_rng(0).choice(len(sample), 800, replace=False)
    x_train, y_train, x_val, y_val = split(Dataset(sample.images[keep], sample.labels[keep], "slice"), seed=0)
    topology = Topology.from_layers([784, 16, 10])
    weights = topology.matrices(initial_weights(topology, generator(0, STREAM_INIT), 0.1, np.float32))
    result = train_gradient_descent(weights, x_train, y_train, x_val, y_val, max_epochs=60, evaluate_every=10)
    history = result.history
    assert history["val_loss"][-1] < history["val_loss"][0] - 0.5
    assert history["val_accuracy"][-1] > 0.6  # ten letters: chance is 0.1
    assert result.best_val_loss == history["val_loss"].min()
    assert evaluate(result.weights, x_val, y_val)[0] == pytest.approx(result.best_val_loss, rel=1e-6)
    assert result.wall_time_s > 0
