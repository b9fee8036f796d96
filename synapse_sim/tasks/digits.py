"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes) as a classification task.

The images ship inside scikit-learn (``sklearn.datasets.load_digits``): nothing is downloaded.
Pixels (0..16) are scaled to [0, 1]; the split is the notMNIST task's (``task.validation_fraction``,
seeded by ``task.data_seed`` or ``run.seed``), and so are the minibatches. Small enough for the
Q-AGREL table in minutes (the issue's check on this machine).
"""

from __future__ import annotations

import functools

import numpy as np

from ..scenario import Scenario, ScenarioError
from .classification import SCENARIO_TASK_KEYS, ClassificationTask, scenario_classification_task
from .data import Dataset, split

N_PIXELS, N_CLASSES = 64, 10


@functools.lru_cache(maxsize=1)
def digits_dataset() -> Dataset:
    try:
        from sklearn.datasets import load_digits
    except ImportError:  # a dependency of synapse_sim; missing only in a broken environment
        raise ScenarioError(
            "task.name = 'digits' needs scikit-learn (its bundled 8x8 digits): pip install scikit-learn"
        ) from None
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    return Dataset(images, digits.target.astype(np.int64), "scikit-learn load_digits (8x8)", 0, ())


def build(scenario: Scenario, dtype) -> ClassificationTask:
    task, network = scenario["task"], scenario["network"]
    if network["layers"][0] != N_PIXELS or network["layers"][-1] != N_CLASSES:
        raise ScenarioError(
            f"network.layers = {network['layers']} does not fit the 8x8 digits: the first layer takes the "
            f"{N_PIXELS} pixels and the last gives the {N_CLASSES} classes, e.g. [{N_PIXELS}, 300, {N_CLASSES}]"
        )
    arrays = split(digits_dataset(), scenario.data_seed, task["validation_fraction"])
    return scenario_classification_task(scenario, arrays, dtype)


build.shares = SCENARIO_TASK_KEYS  # runs in lockstep that agree on them share one task
build.array_api = True  # evaluates on run.device (synapse_sim.arrays)
