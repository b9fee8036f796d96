"""A random teacher network labels random inputs: a classification task of any size that needs no data.

Issue 18's meta-training tasks must not read notMNIST, yet the learned rule must not extrapolate
to 784 inputs and 10 classes: a teacher of exactly that shape (or any other) gives them. Inputs
scatter around random prototypes in [0, 1] (the pixels' range; images cluster too), and a fixed
random teacher network, 784-H-10 with tanh hidden units (``teacher.hidden`` = H; 0: linear),
weights N(0, 1 / fan-in), labels each input by its largest output. The data, the teacher and the
split follow ``task.data_seed`` (else ``run.seed``); the minibatches follow ``run.seed``.
"""

from __future__ import annotations

import functools

import numpy as np

from ..scenario import Field, Scenario
from .classification import SCENARIO_TASK_KEYS, ClassificationTask, scenario_classification_task
from .data import Dataset, split

SECTIONS = {
    "teacher": {
        "hidden": Field("int", 32, "hidden units of the teacher network (0: a linear teacher)", low=0, high=100_000),
        "n_examples": Field("int", 10_000, "examples drawn (train and validation together)", low=10, high=10_000_000),
        "clusters": Field("int", 30, "prototypes the inputs scatter around (0: uniform inputs)", low=0, high=100_000),
        "noise": Field("float", 0.3, "std of the inputs' scatter around their prototype", low=0.0, high=10.0),
    }
}
TEACHER_STREAM = 7  # the data's own stream: independent of the split's and the minibatches'


@functools.lru_cache(maxsize=4)
def teacher_dataset(
    n_inputs: int, n_classes: int, hidden: int, n_examples: int, clusters: int, noise: float, seed: int
) -> Dataset:
    """Inputs around ``clusters`` random prototypes (pixels 0.1 or 0.9, Gaussian noise of std ``noise``,
    clipped to [0, 1]; 0 prototypes: uniform), labelled by the largest output of a random teacher."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), TEACHER_STREAM]))
    if clusters:
        prototypes = np.where(rng.random((clusters, n_inputs)) < 0.5, 0.1, 0.9)
        x = prototypes[rng.integers(0, clusters, n_examples)] + noise * rng.standard_normal((n_examples, n_inputs))
        x = np.clip(x, 0.0, 1.0)
    else:
        x = rng.random((n_examples, n_inputs))
    h = x - 0.5
    if hidden:
        h = np.tanh(h @ rng.standard_normal((n_inputs, hidden)) * (3.0 / np.sqrt(n_inputs)))
    logits = h @ rng.standard_normal((h.shape[1], n_classes)) / np.sqrt(h.shape[1])
    labels = np.argmax(logits, axis=1).astype(np.int64)
    shape = f"{n_inputs}-{f'{hidden}-' if hidden else ''}{n_classes}"
    around = f"{clusters} prototypes" if clusters else "uniform inputs"
    return Dataset(x.astype(np.float32), labels, f"a random {shape} teacher on {around} (seed {seed})")


def build(scenario: Scenario, dtype) -> ClassificationTask:
    layers, teacher = scenario["network"]["layers"], scenario["teacher"]
    data = teacher_dataset(
        layers[0],
        layers[-1],
        teacher["hidden"],
        teacher["n_examples"],
        teacher["clusters"],
        teacher["noise"],
        scenario.data_seed,
    )
    arrays = split(data, scenario.data_seed, scenario["task"]["validation_fraction"])
    return scenario_classification_task(scenario, arrays, dtype)


build.shares = (*SCENARIO_TASK_KEYS, "teacher")
build.array_api = True
