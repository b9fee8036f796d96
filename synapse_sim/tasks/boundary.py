"""Decision-boundary matching in R^2 (paper, Experiment 1)."""

from __future__ import annotations

import itertools

import numpy as np

from ..lockstep import gather
from ..randomness import STREAM_DATA, generator
from ..scenario import ScenarioError
from .base import (
    Evaluation,
    NeuronNoise,
    NonFiniteLossError,
    Task,
    Trace,
    check_finite,
    first_products,
    layer_activity,
    logistic,
    mlp_forward,
    with_ones_row,
)


class DecisionBoundaryTask(Task):
    """Match the decision boundary of a random tanh MLP in R^2 (paper, Experiment 1).

    The target network has the student's shape, weights uniform in
    ``[-target_range, target_range]`` and zero biases; a point is positive where
    its output is > 0. The student's output z passes through the logistic
    function (the authors' ``sftmx`` on a 1-D output), p = 1 / (1 + e^-z), and the
    loss is the paper's "mean Euclidean loss" read as the Euclidean norm of the
    error vector over the data set divided by its size, ``||p - y||_2 / N``.
    Accuracy is label agreement: a point is right when ``z > 0`` and its label is 1, or
    ``z < 0`` and its label is 0; an output of exactly 0 is on neither side and counts as
    wrong (so an all-zero network scores 0, not the share of negative points).

    The task has no held-out data: :meth:`validate` returns nothing, and
    ``run.validate_every`` records no held-out metrics (its accuracy on its own points is
    the training accuracy).
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
            raise ScenarioError(
                "decision-boundary networks map R^2 to one output: network.layers must be [2, ..., 1] "
                f"(2 inputs, any hidden layers, 1 output), got {list(layer_sizes)}; "
                "for another input or output size use another task (task.name)"
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

    def evaluate(
        self, weights, step: int, need_activity: bool = False, noise: NeuronNoise | None = None, trace: bool = False
    ) -> Evaluation:
        """The paper's loss; a trace's example losses are the squared errors ``(p_n - y_n)^2``
        (their mean is the square of the loss times N, so it falls when the loss does). A plain
        evaluation of runs in lockstep on this task is done with theirs (:meth:`evaluate_together`)."""
        if not (need_activity or noise is not None or trace):
            return gather(self.evaluate_together, step, (weights, step))
        drawn = None
        if noise is not None:
            drawn = noise.draw(self.layer_sizes[1:], self.y.size, self.x.dtype)
        keep = need_activity or trace
        z, hidden = mlp_forward(
            self.x,
            weights,
            self.hidden_activation,
            keep_hidden=keep,
            noise=None if drawn is None else [d.T for d in drawn],
        )
        squared, loss, accuracy = self.score(z)
        record = None
        if trace:
            record = Trace(squared, [with_ones_row(h) for h in hidden[:-1]], drawn)
        activity = layer_activity(hidden) if need_activity else None
        return Evaluation(check_finite(loss, step), accuracy, activity, record)

    def score(self, z) -> tuple[np.ndarray, float, float]:
        """The outputs' squared errors, the paper's loss and the accuracy."""
        z = z[:, 0]
        squared = (logistic(z) - self.y) ** 2
        return (
            squared,
            float(np.sqrt(np.sum(squared)) / self.y.size),
            float(np.mean(np.where(self.y > 0, z > 0, z < 0))),
        )

    def evaluate_together(self, items) -> list:
        """Plain evaluations of several networks at one step: their first layers one product on the
        points (:func:`~.base.first_products`); each result equal to the network's own."""
        step = items[0][1]
        weights_list = [weights for weights, _ in items]
        outcomes = []
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is the run's error
            firsts = first_products(self.x, weights_list, False)
            for weights, first in zip(weights_list, firsts, strict=True):
                _, loss, accuracy = self.score(mlp_forward(self.x, weights, self.hidden_activation, first=first)[0])
                try:
                    outcomes.append(Evaluation(check_finite(loss, step), accuracy))
                except NonFiniteLossError as exc:
                    outcomes.append(exc)
        return outcomes

    def predict_grid(self, weights, resolution=200):
        """Student and target labels on a grid over the data square, for boundary plots."""
        axis = np.linspace(-self.extent, self.extent, resolution)
        gx, gy = np.meshgrid(axis, axis)
        grid = np.column_stack([gx.ravel(), gy.ravel()])
        student, _ = mlp_forward(grid.astype(weights[0].dtype), weights, self.hidden_activation)
        target, _ = mlp_forward(grid, self.target_weights, self.hidden_activation)
        shape = (resolution, resolution)
        return axis, (student[:, 0] > 0).reshape(shape), (target[:, 0] > 0).reshape(shape)


def build(scenario, dtype) -> DecisionBoundaryTask:
    task, network = scenario["task"], scenario["network"]
    return DecisionBoundaryTask(
        network["layers"],
        generator(scenario.data_seed, STREAM_DATA),
        n_points=task["n_points"],
        extent=task["extent"],
        target_range=task["target_range"],
        hidden_activation=network["hidden_activation"],
        dtype=dtype,
    )


build.shares = ("task", "network.layers", "network.hidden_activation", "network.dtype", "data_seed")
