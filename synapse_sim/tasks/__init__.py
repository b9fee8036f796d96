"""Tasks: the data and the loss a network learns, by name.

``TASKS`` maps a scenario's ``task.name`` to a lazy ``"module:function"`` builder, so
a task's dependencies (the notMNIST loaders, later Gymnasium) load only when used.
"""

from __future__ import annotations

import importlib

from .base import Evaluation, NeuronNoise, NonFiniteLossError, Task, Trace, correlate
from .boundary import DecisionBoundaryTask
from .classification import ClassificationTask

TASKS: dict[str, str] = {
    "decision_boundary": "synapse_sim.tasks.boundary:build",
    "notmnist": "synapse_sim.tasks.notmnist:build",
}


def build_task(scenario, dtype) -> Task:
    """The task a scenario names, built from its ``[task]`` and ``[network]`` sections."""
    name = scenario["task"]["name"]
    module, function = TASKS[name].split(":")
    return getattr(importlib.import_module(module), function)(scenario, dtype)


__all__ = [
    "TASKS",
    "ClassificationTask",
    "DecisionBoundaryTask",
    "Evaluation",
    "NeuronNoise",
    "NonFiniteLossError",
    "Task",
    "Trace",
    "build_task",
    "correlate",
]
