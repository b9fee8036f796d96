"""Tasks: the data and the loss a network is trained on, shared by both views.

A task receives the per-layer weight matrices (see :mod:`synapse_sim.topology`)
and returns an :class:`Evaluation`. It never sees synapses or agents, so the
agent view and the vectorised backend evaluate through the very same code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0, out=z),
    "identity": lambda z: z,
}


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stops before recording it."""


@dataclass
class Evaluation:
    """Loss and accuracy on the step's data; ``activity`` is each neuron layer's
    mean activation over the batch (bias unit last, always 1) when asked for."""

    loss: float
    accuracy: float
    activity: list[np.ndarray] | None = None


def mlp_forward(x, weights, hidden_activation: str, keep_hidden: bool = False):
    """Forward pass ``h <- f(h @ W[:-1] + W[-1])``; no activation on the output layer."""
    f = ACTIVATIONS[hidden_activation]
    hidden = [x]
    h = x
    for index, w in enumerate(weights):
        z = h @ w[:-1]
        z += w[-1]
        h = z if index == len(weights) - 1 else f(z)
        if keep_hidden:
            hidden.append(h)
    return h, hidden


def layer_activity(hidden: list[np.ndarray]) -> list[np.ndarray]:
    """Mean activation per neuron, with the bias unit (activity 1) appended to every layer."""
    return [np.append(h.mean(axis=0), 1.0) for h in hidden]


def check_finite(loss: float, step: int) -> float:
    if not np.isfinite(loss):
        raise NonFiniteLossError(
            f"the loss became {loss} at step {step}; the weights have diverged. "
            "Lower synapse.alpha_s or check the data for NaN/inf values; "
            "the last checkpoint in the results folder is intact"
        )
    return loss


class Task:
    """Base class. ``batch_id(t)`` names the data used at step ``t``; when it
    changes the engines re-evaluate the previous loss on the new batch."""

    name = "task"
    hidden_activation = "tanh"

    def batch_id(self, step: int) -> int:
        return 0

    def evaluate(self, weights, step: int, need_activity: bool = False) -> Evaluation:
        raise NotImplementedError

    def validate(self, weights) -> dict[str, float]:
        """Held-out metrics, if the task has held-out data."""
        return {}


def logistic(z):
    return np.exp(-np.logaddexp(0.0, -z))


class DecisionBoundaryTask(Task):
    """Match the decision boundary of a random tanh MLP in R^2 (paper, Experiment 1).

    The target network has the student's shape, weights uniform in
    ``[-target_range, target_range]`` and zero biases; a point is positive where
    its output is > 0. The student's output z passes through the logistic
    function (the authors' ``sftmx`` on a 1-D output), p = 1 / (1 + e^-z), and the
    loss is the paper's "mean Euclidean loss" read as the Euclidean norm of the
    error vector over the data set divided by its size, ``||p - y||_2 / N``.
    Accuracy is label agreement, ``mean((z > 0) == y)``.
    """

    name = "decision_boundary"

    def __init__(
        self,
        layer_sizes,
        rng: np.random.Generator,
        n_points=2000,
        extent=10.0,
        target_range=1.0,
        hidden_activation="tanh",
        dtype=np.float64,
    ):
        layer_sizes = tuple(layer_sizes)
        if layer_sizes[0] != 2 or layer_sizes[-1] != 1:
            raise ValueError(
                f"decision-boundary networks map R^2 to one output: layers must be [2, ..., 1], got {list(layer_sizes)}"
            )
        self.hidden_activation = hidden_activation
        self.layer_sizes = layer_sizes
        self.extent = float(extent)
        self.target_weights = []
        for n_in, n_out in itertools.pairwise(layer_sizes):
            w = rng.uniform(-target_range, target_range, (n_in + 1, n_out))
            w[-1] = 0
            self.target_weights.append(w)
        self.x = rng.uniform(-extent, extent, (int(n_points), 2))
        target_out, _ = mlp_forward(self.x, self.target_weights, hidden_activation)
        self.y = (target_out[:, 0] > 0).astype(dtype)
        self.x = self.x.astype(dtype)

    def evaluate(self, weights, step: int, need_activity: bool = False) -> Evaluation:
        z, hidden = mlp_forward(self.x, weights, self.hidden_activation, keep_hidden=need_activity)
        z = z[:, 0]
        p = logistic(z)
        loss = float(np.sqrt(np.sum((p - self.y) ** 2)) / self.y.size)
        accuracy = float(np.mean((z > 0) == (self.y > 0)))
        return Evaluation(check_finite(loss, step), accuracy, layer_activity(hidden) if need_activity else None)

    def predict_grid(self, weights, resolution=200):
        """Student and target labels on a grid over the data square, for boundary plots."""
        axis = np.linspace(-self.extent, self.extent, resolution)
        gx, gy = np.meshgrid(axis, axis)
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        student, _ = mlp_forward(grid.astype(weights[0].dtype), weights, self.hidden_activation)
        target, _ = mlp_forward(grid, self.target_weights, self.hidden_activation)
        shape = (resolution, resolution)
        return axis, (student[:, 0] > 0).reshape(shape), (target[:, 0] > 0).reshape(shape)


def softmax_cross_entropy(logits, labels) -> tuple[float, float]:
    """Mean softmax cross-entropy and accuracy of integer ``labels`` (samples in rows)."""
    loss, accuracy = softmax_cross_entropy_columns(np.asarray(logits).T, labels)
    return loss, accuracy


def softmax_cross_entropy_columns(logits_t, labels) -> tuple[float, float]:
    """The same with samples in columns: reductions over a few class rows stay vectorised."""
    top = logits_t.max(axis=0)
    shifted = logits_t - top
    log_norm = np.log(np.exp(shifted).sum(axis=0))
    picked = shifted[labels, np.arange(labels.size)]
    loss = float(np.mean(log_norm - picked, dtype=np.float64))
    accuracy = float(np.mean(picked == 0))
    return loss, accuracy


def mlp_forward_columns(x_t, weights, hidden_activation: str, keep_hidden: bool = False):
    """:func:`mlp_forward` with samples in columns and a row of ones appended to ``x_t``.

    ``x_t`` has shape ``(n_in + 1, n_samples)`` with ones in its last row, so each
    layer, bias included, is one BLAS product ``W.T @ h``; the softmax reductions
    over a few class rows then stay vectorised. Returns the output (without the
    ones row) and, if asked, each layer's activations (without it too).
    """
    f = ACTIVATIONS[hidden_activation]
    hidden = [x_t[:-1]]
    h = x_t
    for index, w in enumerate(weights):
        z = w.T @ h
        if index == len(weights) - 1:
            h = z
        else:
            h = np.empty((z.shape[0] + 1, z.shape[1]), dtype=z.dtype)
            if hidden_activation == "relu":
                np.maximum(z, 0, out=h[:-1])
            else:
                h[:-1] = f(z)
            h[-1] = 1
        if keep_hidden:
            hidden.append(h[:-1] if index < len(weights) - 1 else h)
    return h, hidden


def with_ones_row(x) -> np.ndarray:
    """Samples of ``x`` (rows) as columns, with the constant bias input as a last row."""
    out = np.empty((x.shape[1] + 1, x.shape[0]), dtype=x.dtype)
    out[:-1] = x.T
    out[-1] = 1
    return out


class ClassificationTask(Task):
    """Softmax classification on a minibatch redrawn every ``batch_interval`` steps.

    The minibatch of step t is batch ``(t - 1) // batch_interval``, drawn without
    replacement from the training set by a generator keyed by that batch number,
    so both views and a resumed run see the same samples. ``validate`` scores the
    held-out set. Accuracy counts a sample right when its label's logit is the
    largest (ties count as right).
    """

    name = "classification"

    def __init__(
        self,
        x_train,
        y_train,
        x_val,
        y_val,
        batch_rng_factory,
        batch_size=5000,
        batch_interval=5000,
        hidden_activation="relu",
        dtype=np.float32,
    ):
        self.x_train = np.ascontiguousarray(x_train, dtype=dtype)
        self.y_train = np.asarray(y_train, dtype=np.int64)
        self.x_val = np.ascontiguousarray(x_val, dtype=dtype)
        self.y_val = np.asarray(y_val, dtype=np.int64)
        self.x_val_t = with_ones_row(self.x_val)
        self.batch_rng_factory = batch_rng_factory
        self.batch_size = min(int(batch_size), self.y_train.size)
        self.batch_interval = int(batch_interval)
        self.hidden_activation = hidden_activation
        self.n_classes = int(max(self.y_train.max(), self.y_val.max() if self.y_val.size else 0)) + 1
        self._batch = (None, None, None)

    def batch_id(self, step: int) -> int:
        return (max(step, 1) - 1) // self.batch_interval

    def batch_indices(self, step: int) -> np.ndarray:
        if self.batch_size == self.y_train.size:
            return np.arange(self.y_train.size)
        rng = self.batch_rng_factory(self.batch_id(step))
        return np.sort(rng.choice(self.y_train.size, self.batch_size, replace=False))

    def batch(self, step: int):
        """The minibatch of ``step``: samples in columns with a ones row, and their labels."""
        batch_id = self.batch_id(step)
        if self._batch[0] != batch_id:
            index = self.batch_indices(step)
            self._batch = (batch_id, with_ones_row(self.x_train[index]), self.y_train[index])
        return self._batch[1], self._batch[2]

    def evaluate(self, weights, step: int, need_activity: bool = False) -> Evaluation:
        x_t, y = self.batch(step)
        logits_t, hidden = mlp_forward_columns(x_t, weights, self.hidden_activation, keep_hidden=need_activity)
        loss, accuracy = softmax_cross_entropy_columns(logits_t, y)
        activity = [np.append(h.mean(axis=1), 1.0) for h in hidden] if need_activity else None
        return Evaluation(check_finite(loss, step), accuracy, activity)

    def validate(self, weights) -> dict[str, float]:
        logits_t, _ = mlp_forward_columns(self.x_val_t, weights, self.hidden_activation)
        loss, accuracy = softmax_cross_entropy_columns(logits_t, self.y_val)
        return {"loss": loss, "accuracy": accuracy}

    def predict(self, weights, x) -> np.ndarray:
        logits, _ = mlp_forward(np.asarray(x, dtype=self.x_train.dtype), weights, self.hidden_activation)
        return logits.argmax(axis=1)
