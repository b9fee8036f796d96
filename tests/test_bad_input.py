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
