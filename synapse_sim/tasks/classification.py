"""Softmax classification on a minibatch, with a held-out set (notMNIST, and any labelled data)."""

from __future__ import annotations

import numpy as np

from ..arrays import NUMPY
from ..errors import ScenarioError
from ..lockstep import gather
from .array_api import first_products as first_products_xp
from .array_api import forward_columns as forward_columns_xp
from .array_api import softmax_cross_entropy as softmax_cross_entropy_xp
from .base import (
    Evaluation,
    NeuronNoise,
    NonFiniteLossError,
    Task,
    Trace,
    check_finite,
    first_products,
    mlp_forward,
    mlp_forward_columns,
    softmax_cross_entropy_columns,
    softmax_cross_entropy_examples,
    with_ones_row,
)
from .trials import TrialSpec, run_trials


class ClassificationTask(Task):
    """Softmax classification on a minibatch redrawn every ``batch_interval`` steps.

    The minibatch of step t is batch ``(t - 1) // batch_interval``, drawn without
    replacement from the training set by a generator keyed by that batch number,
    so both views and a resumed run see the same samples. ``validate`` scores the
    held-out set. Accuracy counts a sample right when its label's logit is strictly
    larger than every other (a tie for the largest counts as wrong).
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
        class_names=None,
        arrays=None,
    ):
        """``arrays``: the :class:`~synapse_sim.arrays.ArrayLibrary` that evaluates (default NumPy);
        another library keeps the minibatch and held-out set on its device (:mod:`.array_api`)."""
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
        self.class_names = tuple(class_names) if class_names is not None else tuple(map(str, range(self.n_classes)))
        self._batch = (None, None, None)
        self.arrays = arrays if arrays is not None else NUMPY
        if not self.arrays.is_numpy:
            self._val_on_device = (self.arrays.asarray(self.x_val_t), self.arrays.asarray(self.y_val))
            self._batch_on_device = (None, None)

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

    def evaluate(
        self,
        weights,
        step: int,
        need_activity: bool = False,
        noise: NeuronNoise | None = None,
        trace: bool = False,
        trial: TrialSpec | None = None,
    ) -> Evaluation:
        """Mean cross-entropy on the step's minibatch; a trace's example losses are each sample's cross-entropy.

        ``trial``: run the examples as trials (:mod:`.trials`); the trace then holds them. A plain
        evaluation of runs in lockstep on this task is done with theirs (:meth:`evaluate_together`)."""
        if not (need_activity or noise is not None or trace or trial is not None):
            return gather(self.evaluate_together, step, (weights, step))
        if not self.arrays.is_numpy:
            raise ScenarioError(
                f"run.array_library = {self.arrays.name!r} evaluates plain losses only (rules such as synaptic_rl, "
                "weight_perturbation, spsa); this rule asks for neuron activity, noise, traces or trials: run it "
                "with run.device = 'cpu' and run.array_library = 'auto'"
            )
        x_t, y = self.batch(step)
        drawn = None
        if noise is not None:
            drawn = noise.draw([w.shape[1] for w in weights], y.size, x_t.dtype)
        trace = trace or trial is not None
        keep = need_activity or trace
        logits_t, hidden = mlp_forward_columns(x_t, weights, self.hidden_activation, keep_hidden=keep, noise=drawn)
        record = None
        if trace:
            example_losses, correct = softmax_cross_entropy_examples(logits_t, y)
            loss, accuracy = float(np.mean(example_losses, dtype=np.float64)), float(np.mean(correct))
            inputs = [x_t] + [with_ones_row(h.T) for h in hidden[1:-1]]
            record = Trace(example_losses, inputs, drawn)
            if trial is not None:
                record.trials, record.feedback = run_trials(logits_t, y, hidden, weights, trial, self.hidden_activation)
        else:
            loss, accuracy = softmax_cross_entropy_columns(logits_t, y)
        activity = [np.append(h.mean(axis=1), 1.0) for h in hidden] if need_activity else None
        return Evaluation(check_finite(loss, step), accuracy, activity, record)

    def evaluate_together(self, items) -> list[Evaluation]:
        """Plain evaluations of several networks at one step: their first layers one product on the
        minibatch (:func:`~.base.first_products`); each result equal to the network's own."""
        step = items[0][1]
        if not self.arrays.is_numpy:
            return self._evaluate_on_device([weights for weights, _ in items], step)
        x_t, y = self.batch(step)
        weights_list = [weights for weights, _ in items]
        outcomes = []
        with np.errstate(over="ignore", invalid="ignore"):  # a non-finite loss is the run's error
            firsts = first_products(x_t, weights_list, True)
            for weights, first in zip(weights_list, firsts, strict=True):
                logits_t, _ = mlp_forward_columns(x_t, weights, self.hidden_activation, first=first)
                loss, accuracy = softmax_cross_entropy_columns(logits_t, y)
                try:
                    outcomes.append(Evaluation(check_finite(loss, step), accuracy))
                except NonFiniteLossError as exc:
                    outcomes.append(exc)
        return outcomes

    def _evaluate_on_device(self, weights_list, step: int) -> list[Evaluation]:
        xp, lib = self.arrays.xp, self.arrays
        if self._batch_on_device[0] != self.batch_id(step):
            x_t, y = self.batch(step)
            self._batch_on_device = (self.batch_id(step), (lib.asarray(x_t), lib.asarray(y)))
        x_t, y = self._batch_on_device[1]
        on_device = [[lib.asarray(w) for w in weights] for weights in weights_list]
        outcomes = []
        with np.errstate(over="ignore", invalid="ignore"):  # array_api_strict computes in NumPy
            for weights, first in zip(on_device, first_products_xp(xp, x_t, on_device), strict=True):
                logits_t = forward_columns_xp(xp, x_t, weights, self.hidden_activation, first)
                loss, accuracy = softmax_cross_entropy_xp(xp, logits_t, y)
                try:
                    outcomes.append(Evaluation(check_finite(loss, step), accuracy))
                except NonFiniteLossError as exc:
                    outcomes.append(exc)
        return outcomes

    def validate(self, weights) -> dict[str, float]:
        if not self.arrays.is_numpy:
            x_t, y = self._val_on_device
            on_device = [self.arrays.asarray(w) for w in weights]
            with np.errstate(over="ignore", invalid="ignore"):
                logits_t = forward_columns_xp(self.arrays.xp, x_t, on_device, self.hidden_activation)
                loss, accuracy = softmax_cross_entropy_xp(self.arrays.xp, logits_t, y)
            return {"loss": loss, "accuracy": accuracy}
        logits_t, _ = mlp_forward_columns(self.x_val_t, weights, self.hidden_activation)
        loss, accuracy = softmax_cross_entropy_columns(logits_t, self.y_val)
        return {"loss": loss, "accuracy": accuracy}

    def predict(self, weights, x) -> np.ndarray:
        logits, _ = mlp_forward(np.asarray(x, dtype=self.x_train.dtype), weights, self.hidden_activation)
        return logits.argmax(axis=1)


# the scenario keys a classification task built by scenario_classification_task depends on (the
# minibatches follow run.seed; the device holds the data)
SCENARIO_TASK_KEYS = (
    "task",
    "network.layers",
    "network.hidden_activation",
    "network.dtype",
    "data_seed",
    "run.seed",
    "run.device",
    "run.array_library",
)


def scenario_classification_task(scenario, arrays, dtype, class_names=None) -> ClassificationTask:
    """A scenario's classification task on ``arrays`` = (x_train, y_train, x_val, y_val): its minibatches
    (``task.batch_size`` / ``batch_interval``, keyed by ``run.seed``), hidden activation and class names
    (default the label numbers)."""
    import functools

    from ..arrays import scenario_array_library
    from ..randomness import STREAM_BATCH, generator

    task, network = scenario["task"], scenario["network"]
    return ClassificationTask(
        *arrays,
        functools.partial(generator, scenario["run"]["seed"], STREAM_BATCH),
        batch_size=task["batch_size"],
        batch_interval=task["batch_interval"],
        hidden_activation=network["hidden_activation"],
        dtype=np.dtype(dtype),
        class_names=class_names,
        arrays=scenario_array_library(scenario),
    )
