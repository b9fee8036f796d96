"""The array-API path (run.device / run.array_library): array_api_strict on the CPU against NumPy.

array_api_strict computes in NumPy behind the standard's calls, so the array-API path must give
the NumPy path's numbers bit for bit; a GPU library gives its own (checked on a GPU by
benchmarks/bench_population.py --device cuda, when one is lent).
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest

from synapse_sim import Scenario, ScenarioError, VectorEngine
from synapse_sim.arrays import array_library
from synapse_sim.engine.lockstep_runs import LockstepRuns
from synapse_sim.folder import RunError
from synapse_sim.runner import run as run_scenario

pytest.importorskip("array_api_strict", reason="array-api-strict is a test dependency (pip install -e .[test])")

STRICT = {"run.array_library": "array_api_strict"}


def digits(**overrides) -> Scenario:
    return Scenario.load("notmnist_0hu").with_overrides(
        {
            "task.name": "digits",
            "layers": [64, 10],
            "task.batch_size": 400,
            "task.batch_interval": 40,
            "policy.file": "shipped",
            "synapse.alpha_s": 0.001,
            "run.validate_every": 0,
            "run.early_stop_iteration": None,
            **overrides,
        }
    )


def trajectory(scenario: Scenario, steps: int = 150):
    engine = VectorEngine(scenario)
    results = engine.run(steps)
    validation = engine.simulation.task.validate(engine.weight_matrices())
    return engine.population.weights.copy(), [(r.loss, r.accuracy) for r in results], validation


@pytest.mark.parametrize(
    "network", [{}, {"layers": [64, 16, 10], "hidden_activation": "tanh"}, {"layers": [64, 16, 10]}]
)
def test_the_array_api_path_gives_the_numpy_numbers_bit_for_bit(network):
    weights, steps, validation = trajectory(digits(**network))
    weights_strict, steps_strict, validation_strict = trajectory(digits(**network, **STRICT))
    assert np.array_equal(weights, weights_strict)
    assert steps == steps_strict
    assert validation == validation_strict
    assert len({loss for loss, _ in steps}) > 10  # the run moved


def test_a_population_on_the_array_api_path_equals_its_runs_alone():
    members = [digits(**STRICT, **{"synapse.alpha_s": 0.001 * (1 + k / 4), "run.seed": 3}) for k in range(4)]
    population = LockstepRuns(members)
    assert population.task.arrays.name == "array_api_strict"
    together = population.run(120)
    for scenario, engine, results in zip(members, population.engines, together, strict=True):
        alone = VectorEngine(scenario)
        alone_results = alone.run(120)
        assert np.array_equal(alone.population.weights, engine.population.weights)
        assert [r.loss for r in alone_results] == [r.loss for r in results]


def test_a_run_on_the_array_api_path_writes_the_same_results_folder_figures(tmp_path):
    common = {"run.iterations": 200, "run.validate_every": 100, "run.checkpoint_every": 100}
    plain = run_scenario(digits(**common), tmp_path / "numpy", progress=False)
    strict = run_scenario(digits(**common, **STRICT), tmp_path / "strict", progress=False)
    for key in ("final_loss", "final_accuracy", "final_validation_accuracy"):
        assert plain[key] == strict[key]


def test_cuda_without_a_gpu_library_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "cupy") else real(name))
    with pytest.raises(ScenarioError, match=r"neither torch nor CuPy is installed: pip install torch.*cupy"):
        array_library("cuda")
    with pytest.raises(ScenarioError, match=r"needs the package 'cupy', which is not installed.*pip install cupy"):
        VectorEngine(digits(**{"run.device": "cuda", "run.array_library": "cupy"}))


def test_cuda_with_a_library_but_no_gpu_says_so(monkeypatch):
    fake = types.ModuleType("torch")
    fake.__version__ = "0.0+cpu"
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "torch", fake)
    with pytest.raises(ScenarioError, match=r"torch 0.0\+cpu is installed but sees no CUDA device.*run.device = 'cpu'"):
        array_library("cuda", "torch")


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"task.name": "decision_boundary", "layers": [2, 5, 1]}, "task 'decision_boundary' evaluates in NumPy"),
        ({"run.engine": "agent"}, "need run.engine = 'vector'"),
        ({"run.device": "cuda", "run.array_library": "array_api_strict"}, "runs on the CPU only"),
        ({"run.device": "cuda", "run.array_library": "numpy"}, "runs on the CPU only"),
    ],
)
def test_an_array_library_where_it_cannot_run_is_refused(overrides, match):
    with pytest.raises(ScenarioError, match=match):
        VectorEngine(digits(**{**STRICT, **overrides}))


def test_a_rule_that_needs_more_than_the_loss_is_refused_on_the_array_api_path():
    scenario = Scenario.load("notmnist_0hu_node_perturbation").with_overrides(
        {"task.name": "digits", "layers": [64, 10], "task.batch_size": 400, **STRICT}
    )
    with pytest.raises(ScenarioError, match=r"evaluates plain losses only.*run.device = 'cpu'"):
        VectorEngine(scenario).run(1)


def test_gradient_descent_refuses_another_array_library(tmp_path):
    scenario = Scenario.load("notmnist_0hu_gd").with_overrides(STRICT)
    with pytest.raises(RunError, match="trains in NumPy on the CPU"):
        run_scenario(scenario, tmp_path / "gd", progress=False)


def test_population_members_on_different_libraries_are_refused_by_key():
    with pytest.raises(ScenarioError, match=r"run.array_library"):
        LockstepRuns([digits(), digits(**STRICT)])
