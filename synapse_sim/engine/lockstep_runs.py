"""K runs of one network shape on one task instance, stepped together: a lockstep population.

Members may differ by run seed (where the task does not follow it: the decision boundary's
points and target follow ``task.data_seed``), policy, rule hyperparameters or state space;
they share one task (the same points, split and minibatch sequence), so every plain
evaluation's first layer is one product for all of them
(:func:`synapse_sim.tasks.base.first_products`), and each member keeps its own weights,
memory, reward and Q table. Member k equals its run alone, bit for bit
(tests/test_population.py). Studies get the same through :func:`synapse_sim.studies.jobs.run_group`
(each run's own loop, the task shared through :func:`synapse_sim.lockstep.shared`).
"""

from __future__ import annotations

import numpy as np

from ..lockstep import together
from ..scenario import Scenario, ScenarioError
from ..tasks import build_task, task_builder, task_identity
from .vector import VectorEngine


def check_members(scenarios: list[Scenario]) -> None:
    """A clear error unless every member can share the first one's task instance."""
    if not scenarios:
        raise ScenarioError("a population needs at least one scenario")
    name = scenarios[0]["task"]["name"]
    shares = getattr(task_builder(name), "shares", None)
    if shares is None:
        raise ScenarioError(
            f"task {name!r} cannot be shared by runs in lockstep (each run keeps state of its own in it, e.g. an "
            "environment): run them with synapse_sim.lockstep.together, as `control --lockstep` does"
        )
    first = dict(task_identity(scenarios[0], shares))
    for k, scenario in enumerate(scenarios[1:], start=1):
        if scenario["task"]["name"] != name:
            raise ScenarioError(
                f"population member {k} has task.name = {scenario['task']['name']!r}, member 0 {name!r}: the members "
                "of a population share one task"
            )
        for key, value in task_identity(scenario, shares):
            if value != first[key]:
                raise ScenarioError(
                    f"population member {k} differs from member 0 in {key} ({value} vs {first[key]}): the members of "
                    "a population share one task instance (network shape, data, split and minibatches); set the "
                    "same value, or run them apart"
                )


class LockstepRuns:
    """K vectorised runs on one shared task: ``LockstepRuns(scenarios).run(1000)``."""

    def __init__(self, scenarios: list[Scenario], task=None):
        """``task``: the members' task, if already built (else built from the first scenario)."""
        check_members(scenarios)
        dtype = np.dtype(scenarios[0]["network"]["dtype"])
        self.task = task if task is not None else build_task(scenarios[0], dtype)
        self.engines = [VectorEngine(scenario, task=self.task) for scenario in scenarios]

    def run(self, n_steps: int) -> list[list]:
        """``n_steps`` more steps of every member; per member its step results (an error is raised once all ended)."""
        outcomes = together([lambda engine=engine: engine.run(n_steps) for engine in self.engines])
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if errors:
            raise errors[0]
        return outcomes
