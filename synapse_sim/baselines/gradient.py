"""The gradient-descent baseline (paper, Experiment 2): full-batch GD on the synaptic-RL network.

It uses the network convention of :mod:`synapse_sim.engine.topology` (matrices of shape
``(n_in + 1, n_out)``, biases in the last row) and the forward pass and loss of
:mod:`synapse_sim.tasks`, so both methods train the same function on the same loss
and start from the same weights when the caller passes ``initial_weights``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..tasks.base import NonFiniteLossError, mlp_forward, softmax_cross_entropy

ACTIVATION_SLOPES = {
    # derivative of the hidden activation, written in terms of its output h = f(z)
    "relu": lambda h: (h > 0).astype(h.dtype),
    "tanh": lambda h: 1 - h * h,
    "identity": np.ones_like,
}


class LossGradients(NamedTuple):
    loss: float
    accuracy: float
    gradients: list[np.ndarray]


def loss_and_gradients(weights, x, y, hidden_activation: str = "relu") -> LossGradients:
    """Mean softmax cross-entropy of integer labels ``y``, accuracy, and the exact gradient of the loss.

    Gradients are matrices shaped like ``weights`` (bias gradient in the last row),
    in the weights' dtype. Loss and accuracy are those of :func:`softmax_cross_entropy`.
    """
    slope = ACTIVATION_SLOPES[hidden_activation]
    dtype = weights[0].dtype
    x = np.asarray(x, dtype=dtype)
    y = np.asarray(y)
    logits, hidden = mlp_forward(x, weights, hidden_activation, keep_hidden=True)
    loss, accuracy = softmax_cross_entropy(logits, y)
    shifted = logits - logits.max(axis=1, keepdims=True)
    delta = np.exp(shifted)
    delta /= delta.sum(axis=1, keepdims=True)
    delta[np.arange(y.size), y] -= 1
    delta /= y.size  # d loss / d logits, for the mean over samples
    gradients = [None] * len(weights)
    for index in range(len(weights) - 1, -1, -1):
        h = hidden[index]
        grad = np.empty_like(weights[index])
        np.matmul(h.T, delta, out=grad[:-1])
        grad[-1] = delta.sum(axis=0)
        gradients[index] = grad
        if index:
            delta = (delta @ weights[index][:-1].T) * slope(h)
    return LossGradients(loss, accuracy, gradients)


def evaluate(weights, x, y, hidden_activation: str = "relu") -> tuple[float, float]:
    """Mean softmax cross-entropy and accuracy of the network on ``(x, y)``."""
    logits, _ = mlp_forward(np.asarray(x, dtype=weights[0].dtype), weights, hidden_activation)
    return softmax_cross_entropy(logits, np.asarray(y))


@dataclass
class GradientDescentResult:
    """The network at its best validation loss, the one after the last epoch, and the history.

    ``history`` holds arrays ``epoch``, ``train_loss``, ``train_accuracy``,
    ``val_loss`` and ``val_accuracy``, one entry per evaluation (epoch 0 = the
    initial weights). ``stopped_by`` is ``"plateau"`` or ``"max_epochs"``.
    """

    weights: list[np.ndarray]
    final_weights: list[np.ndarray]
    best_epoch: int
    best_val_loss: float
    best_val_accuracy: float
    epochs: int
    stopped_by: str
    wall_time_s: float
    history: dict[str, np.ndarray] = field(repr=False)


def train_gradient_descent(
    weights,
    x_train,
    y_train,
    x_val,
    y_val,
    learning_rate: float = 0.1,
    max_epochs: int = 20000,
    evaluate_every: int = 50,
    patience: int = 10,
    min_delta: float = 1e-3,
    hidden_activation: str = "relu",
    progress: Callable[[dict], object] | None = None,
) -> GradientDescentResult:
    """Full-batch gradient descent, no momentum, no regularisation, until the validation loss plateaus.

    One epoch is one step ``W <- W - learning_rate * dL/dW`` on the whole training set.

    Stopping rule. The network is evaluated (train and validation loss and
    accuracy) at epoch 0 and after every ``evaluate_every`` epochs. An evaluation
    *improves* when its validation loss is below ``(1 - min_delta)`` times the
    reference loss; the reference starts as the loss at epoch 0 and becomes the
    validation loss of each improving evaluation. Training stops after
    ``patience`` evaluations in a row without improvement (``stopped_by="plateau"``)
    or at ``max_epochs`` (always evaluated; ``"max_epochs"``). The returned
    ``weights`` are those of the lowest validation loss seen at any evaluation,
    improving or not; ``final_weights`` those of the last epoch.

    ``weights`` is not modified; training runs in its dtype. ``progress``, if
    given, receives a dict of each evaluation (epoch, losses, accuracies, best_epoch).
    """
    if evaluate_every < 1 or patience < 1 or max_epochs < 0 or min_delta < 0 or learning_rate < 0:
        raise ValueError(
            "gradient descent needs evaluate_every >= 1, patience >= 1, max_epochs >= 0, min_delta >= 0 "
            f"and learning_rate >= 0; got {evaluate_every}, {patience}, {max_epochs}, {min_delta}, {learning_rate}"
        )
    dtype = np.asarray(weights[0]).dtype
    if not np.issubdtype(dtype, np.floating):
        raise TypeError(f"weights must be floating point, got {dtype}")
    w = [np.array(m, dtype=dtype, copy=True) for m in weights]
    x_train = np.ascontiguousarray(x_train, dtype=dtype)
    x_val = np.ascontiguousarray(x_val, dtype=dtype)
    y_train = np.asarray(y_train, dtype=np.int64)
    y_val = np.asarray(y_val, dtype=np.int64)
    n_in, n_out = w[0].shape[0] - 1, w[-1].shape[1]
    for name, x, y in (("training", x_train, y_train), ("validation", x_val, y_val)):
        if x.ndim != 2 or x.shape[1] != n_in or y.shape != (x.shape[0],) or y.size == 0:
            raise ValueError(
                f"{name} data must be (N, {n_in}) inputs with N labels, N >= 1; got {x.shape} and {y.shape}"
            )
        if y.min() < 0 or y.max() >= n_out:
            raise ValueError(f"{name} labels must be 0..{n_out - 1} for {n_out} outputs, found {y.min()}..{y.max()}")
    step = dtype.type(learning_rate)

    history = {k: [] for k in ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy")}
    best = {"loss": np.inf, "accuracy": np.nan, "epoch": 0, "weights": None}
    reference, stale, stopped_by = None, 0, "max_epochs"
    start = time.perf_counter()
    for epoch in range(max_epochs + 1):
        # loss and gradient at the weights after `epoch` updates: the train metrics of this epoch
        train_loss, train_accuracy, gradients = loss_and_gradients(w, x_train, y_train, hidden_activation)
        if not np.isfinite(train_loss):
            raise NonFiniteLossError(
                f"gradient descent diverged: the training loss became {train_loss} at epoch {epoch}; "
                f"lower the learning rate (now {learning_rate}) or check the data for NaN/inf values"
            )
        if epoch % evaluate_every == 0 or epoch == max_epochs:
            val_loss, val_accuracy = evaluate(w, x_val, y_val, hidden_activation)
            if not np.isfinite(val_loss):
                raise NonFiniteLossError(
                    f"gradient descent diverged: the validation loss became {val_loss} at epoch {epoch}; "
                    f"lower the learning rate (now {learning_rate}) or check the data for NaN/inf values"
                )
            for key, value in zip(history, (epoch, train_loss, train_accuracy, val_loss, val_accuracy), strict=True):
                history[key].append(value)
            if val_loss < best["loss"]:
                best = {"loss": val_loss, "accuracy": val_accuracy, "epoch": epoch, "weights": [m.copy() for m in w]}
            if reference is None or val_loss < reference * (1 - min_delta):
                reference, stale = val_loss, 0
            else:
                stale += 1
            if progress is not None:
                progress(
                    {
                        "epoch": epoch,
                        "train_loss": train_loss,
                        "train_accuracy": train_accuracy,
                        "val_loss": val_loss,
                        "val_accuracy": val_accuracy,
                        "best_epoch": best["epoch"],
                    }
                )
            if stale >= patience:
                stopped_by = "plateau"
                break
        if epoch == max_epochs:
            break
        for m, g in zip(w, gradients, strict=True):
            np.multiply(g, step, out=g)
            np.subtract(m, g, out=m)
    return GradientDescentResult(
        weights=best["weights"] if best["weights"] is not None else [m.copy() for m in w],
        final_weights=w,
        best_epoch=best["epoch"],
        best_val_loss=float(best["loss"]),
        best_val_accuracy=float(best["accuracy"]),
        epochs=epoch,
        stopped_by=stopped_by,
        wall_time_s=time.perf_counter() - start,
        history={k: np.array(v, dtype=np.int64 if k == "epoch" else np.float64) for k, v in history.items()},
    )
