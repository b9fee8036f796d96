"""Tasks: the data and the loss a network learns, by name.

``TASKS`` maps a scenario's ``task.name`` to its builder, ``builder(scenario, dtype) -> Task``:
a callable, or a lazy ``"module:function"`` string, so a task's dependencies (the notMNIST
loaders, Gymnasium) load only when used. :func:`register_task` adds one (a plug-in's
too: :mod:`synapse_sim.plugins`).
"""

from __future__ import annotations

import importlib

import numpy as np

from ..plugins import from_entry_point, hint, register_kind
from ..scenario import ScenarioError, register_task_sections
from .base import Evaluation, NeuronNoise, NonFiniteLossError, Task, Trace, correlate
from .boundary import DecisionBoundaryTask
from .classification import ClassificationTask
from .control import SECTIONS as CONTROL_SECTIONS
from .teacher import SECTIONS as TEACHER_SECTIONS

TASKS: dict[str, object] = {
    "decision_boundary": "synapse_sim.tasks.boundary:build",
    "notmnist": "synapse_sim.tasks.notmnist:build",
    "digits": "synapse_sim.tasks.digits:build",
    "control": "synapse_sim.tasks.control:build",
    "teacher": "synapse_sim.tasks.teacher:build",
}
_SECTIONS = {"control": CONTROL_SECTIONS, "teacher": TEACHER_SECTIONS}
for _name in TASKS:
    register_task_sections(_name, _SECTIONS.get(_name, {}))


def register_task(name: str, builder, sections: dict | None = None):
    """Make ``builder(scenario, dtype) -> Task`` the task ``task.name = name``.

    ``sections``: scenario sections of its own (``{"my_task": {"key": Field(...)}}``), whose keys
    a scenario may set only when it names this task. Returns ``builder`` (usable as a decorator
    through ``functools.partial``).
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a task needs a name (a non-empty string), got {name!r}")
    if name in TASKS and TASKS[name] is not builder:
        raise ValueError(f"a task named {name!r} is already registered ({TASKS[name]!r})")
    if not (callable(builder) or (isinstance(builder, str) and ":" in builder)):
        raise ValueError(f"task {name!r}: the builder must be a callable or a 'module:function' string")
    register_task_sections(name, sections or {})
    TASKS[name] = builder
    return builder


register_kind("task", TASKS, lambda builder, name: register_task(name, builder, getattr(builder, "sections", None)))


def known_task(name: str) -> str | None:
    """None if ``name`` is a task (an installed plug-in's entry point is loaded if needed), else why not."""
    if name in TASKS or from_entry_point("task", name):
        return None
    return f"unknown task {name!r}; known tasks: {', '.join(sorted(TASKS))}; {hint('task', name)}"


def task_builder(name: str):
    """The builder of ``task.name = name``."""
    problem = known_task(name)
    if problem:
        raise ScenarioError(problem)
    builder = TASKS[name]
    if isinstance(builder, str):
        module, function = builder.split(":")
        builder = getattr(importlib.import_module(module), function)
    return builder


def build_task(scenario, dtype) -> Task:
    """The task a scenario names, built from its ``[task]`` and ``[network]`` sections.

    A builder with a ``shares`` attribute (the scenario keys its task depends on) builds one
    task for all runs in lockstep whose scenarios agree on them (:func:`synapse_sim.lockstep.shared`),
    so their evaluations batch."""
    builder = task_builder(scenario["task"]["name"])
    check_device(scenario, builder)
    shares = getattr(builder, "shares", None)
    if shares is None:
        return builder(scenario, dtype)
    from ..lockstep import shared

    return shared(("task", task_identity(scenario, shares), np.dtype(dtype).str), lambda: builder(scenario, dtype))


def check_device(scenario, builder) -> None:
    """A clear error when the scenario asks for another array library than NumPy on a task, engine or
    method that evaluates in NumPy only."""
    run = scenario["run"]
    if run["device"] == "cpu" and run["array_library"] in ("auto", "numpy"):
        return
    if not getattr(builder, "array_api", False):
        raise ScenarioError(
            f"run.device = {run['device']!r} / run.array_library = {run['array_library']!r}: task "
            f"{scenario['task']['name']!r} evaluates in NumPy on the CPU only (the classification tasks, notmnist "
            "and digits, run on other array libraries); remove those keys"
        )
    if run["engine"] != "vector":
        raise ScenarioError(
            "run.device / run.array_library other than cpu / numpy need run.engine = 'vector' (the agent view "
            "evaluates in NumPy)"
        )


def task_identity(scenario, shares) -> tuple:
    """The values of the keys ``shares`` names (a section: each of its keys; ``"data_seed"``: the
    data's seed), as a hashable tuple of (key, value as JSON)."""
    import json

    values = []
    for key in shares:
        if key == "data_seed":
            values.append((key, scenario.data_seed))
        elif "." in key:
            section, name = key.split(".", 1)
            values.append((key, scenario[section][name]))
        else:
            values.extend((f"{key}.{name}", value) for name, value in sorted(scenario[key].items()))
    return tuple((key, json.dumps(value, sort_keys=True, default=str)) for key, value in values)


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
    "known_task",
    "register_task",
    "task_builder",
]
