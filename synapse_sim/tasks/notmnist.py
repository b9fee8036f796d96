"""notMNIST character recognition as a task (paper, Experiment 2)."""

from __future__ import annotations

import functools

import numpy as np

from ..randomness import STREAM_BATCH, generator
from ..scenario import Scenario
from .classification import ClassificationTask


@functools.lru_cache(maxsize=4)
def _dataset(path: str | None):
    from .data import load_notmnist

    return load_notmnist(path)


def notmnist_split(scenario: Scenario):
    """The seeded train / validation split of the scenario's data (same for RL and GD)."""
    from .data import split

    task = scenario["task"]
    return split(_dataset(task["data"]), scenario.data_seed, task["validation_fraction"])


def build(scenario: Scenario, dtype) -> ClassificationTask:
    task = scenario["task"]
    network = scenario["network"]
    x_train, y_train, x_val, y_val = notmnist_split(scenario)
    if network["layers"][0] != x_train.shape[1] or network["layers"][-1] != 10:
        raise ValueError(
            f"notMNIST networks map {x_train.shape[1]} pixels to 10 letters: network.layers must be "
            f"[{x_train.shape[1]}, ..., 10], got {network['layers']}"
        )
    return ClassificationTask(
        x_train,
        y_train,
        x_val,
        y_val,
        functools.partial(generator, scenario["run"]["seed"], STREAM_BATCH),
        batch_size=task["batch_size"],
        batch_interval=task["batch_interval"],
        hidden_activation=network["hidden_activation"],
        dtype=np.dtype(dtype),
    )
