"""notMNIST character recognition as a task (paper, Experiment 2)."""

from __future__ import annotations

import functools
import math

from ..scenario import Scenario, ScenarioError
from .classification import SCENARIO_TASK_KEYS, ClassificationTask, scenario_classification_task
from .data import LETTERS


@functools.lru_cache(maxsize=4)
def _dataset(path: str | None):
    from .data import load_notmnist

    return load_notmnist(path)


def notmnist_split(scenario: Scenario):
    """The seeded train / validation split of the scenario's data (same for RL and GD)."""
    from .data import split

    task = scenario["task"]
    return split(_dataset(task["data"]), scenario.data_seed, task["validation_fraction"])


def check_layers(layers, n_pixels: int, source: str = "the data") -> None:
    """Refuse a network whose input or output does not fit the data (a :class:`ScenarioError` naming the key)."""
    from .data import IMAGE_SHAPE, N_CLASSES

    if layers[0] == n_pixels and layers[-1] == N_CLASSES:
        return
    side = math.isqrt(n_pixels)
    shape = f"{side}x{side} = {n_pixels:,}" if side * side == n_pixels else f"{n_pixels:,}"
    standard = math.prod(IMAGE_SHAPE)
    hint = (
        ""
        if n_pixels == standard
        else f"; the shipped notMNIST scenarios expect {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]} = {standard} pixels"
    )
    raise ScenarioError(
        f"network.layers = {list(layers)} does not fit the data: notMNIST networks map each image's pixels to "
        f"{N_CLASSES} letters, and {source} holds images of {shape} pixels, so network.layers must be "
        f"[{n_pixels}, ..., {N_CLASSES}] (first: pixels per image, last: {N_CLASSES} letters){hint}"
    )


def build(scenario: Scenario, dtype) -> ClassificationTask:
    task = scenario["task"]
    arrays = notmnist_split(scenario)
    source = _dataset(task["data"]).source
    check_layers(scenario["network"]["layers"], arrays[0].shape[1], source)
    mnist_files = any(f"{name}-images-idx3" in source for name in ("train", "t10k"))  # MNIST's own file names
    names = None if mnist_files else LETTERS  # None: the label numbers
    return scenario_classification_task(scenario, arrays, dtype, names)


build.shares = SCENARIO_TASK_KEYS  # runs in lockstep that agree on them share one task
build.array_api = True  # evaluates on run.device (synapse_sim.arrays)
