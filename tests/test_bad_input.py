"""Bad input gives a clear error and loses nothing."""

import json

import numpy as np
import pytest
from conftest import small_scenario

from synapse_sim import Policy, StateSpace
from synapse_sim.runner import RunError, run
from synapse_sim.tasks import DecisionBoundaryTask
from synapse_sim.tasks.base import NonFiniteLossError, check_finite


class DivergingTask(DecisionBoundaryTask):
    """A decision-boundary task whose loss turns NaN from step 25 on (a diverged run)."""

    def evaluate(self, weights, step, need_activity=False):
        evaluation = super().evaluate(weights, step, need_activity)
        if step >= 25:
            evaluation.loss = check_finite(float("nan"), step)
        return evaluation


def test_nan_loss_stops_with_clear_error_and_keeps_last_checkpoint(tmp_path):
    scenario = small_scenario(iterations=100, checkpoint_every=10)
    task = DivergingTask(scenario["network"]["layers"], np.random.default_rng(0), n_points=50)
    with pytest.raises(RunError) as err:
        run(scenario, tmp_path / "r", progress=False, engine_kwargs={"task": task})
    message = str(err.value)
    assert "the loss became nan at step 25" in message and "synapse.alpha_s" in message
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"].startswith("failed")
    with np.load(tmp_path / "r" / "checkpoint.npz", allow_pickle=False) as data:
        assert int(data["engine_step"]) == 20
        assert np.all(np.isfinite(data["history_loss"])) and data["history_loss"].size == 20
    assert not list((tmp_path / "r").glob(".*.tmp"))


def test_nan_in_task_data_is_caught(tmp_path):
    from synapse_sim import VectorEngine

    engine = VectorEngine(small_scenario())
    engine.simulation.task.x[0, 0] = np.nan
    with pytest.raises(NonFiniteLossError, match="check the data for NaN"):
        engine.step()


def test_static_scenario_with_mismatched_policy(tmp_path):
    Policy(StateSpace.paper(n=1)).save(tmp_path / "short")
    scenario = small_scenario(**{"policy.mode": "static", "policy.file": str(tmp_path / "short")})
    with pytest.raises(ValueError, match=r"learned on state space .*9 states.*scenario uses .*81 states"):
        run(scenario, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


def test_a_network_that_cannot_fit_is_refused_before_allocating():
    """layers = [2, 50000000, 1] would allocate gigabytes and die in NumPy; the CLI refuses it at once."""
    import resource
    import subprocess
    import sys

    code = (
        "import sys; from synapse_sim.cli import main; "
        "sys.exit(main(['run', 'decision_boundary_adaptive', '--set', 'network.layers=[2, 50000000, 1]', '--quiet']))"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert result.returncode == 2, result.stderr[-2000:]
    message = result.stderr
    assert "needs about" in message and "200,000,001 synapses" in message and "available" in message
    assert "network.layers" in message and "task.n_points" in message
    assert "Traceback" not in message
    assert peak_kb < 500_000 or peak_kb == before, f"the refusal itself used {peak_kb / 1000:.0f} MB"


def test_the_footprint_estimate_names_the_view_and_scales_with_the_network():
    from synapse_sim import Scenario
    from synapse_sim.engine.footprint import check_fits, estimate
    from synapse_sim.scenario import ScenarioError

    small = Scenario().with_overrides({"network.layers": [2, 100, 1], "task.n_points": 10})
    big = small.with_overrides({"network.layers": [2, 1000, 1]})
    assert estimate(big).total > 9 * estimate(small).total
    assert estimate(small, "agent").synapse_bytes > 10 * estimate(small, "vector").synapse_bytes
    assert check_fits(small, available=10**9).synapses == 401
    with pytest.raises(ScenarioError, match=r"in the agent view .* \(run.engine = 'vector'\)"):
        check_fits(small, "agent", available=estimate(small).total * 2)
    notmnist = Scenario().with_overrides({"task.name": "notmnist", "network.layers": [784, 10], "task.batch_size": 50})
    with pytest.raises(ScenarioError, match=r"task.batch_size"):
        check_fits(notmnist, available=1000)
