"""Experiment 1 reproduced on the vectorised engine (Fig. 1 and Fig. 2 of the paper).

Each test runs five full 10,000-iteration runs (~2 minutes on one core).
"""

from pathlib import Path

import pytest

from synapse_sim import Scenario
from synapse_sim.studies.experiments import decision_boundary_jobs, run_jobs

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = Scenario.load(ROOT / "scenarios" / "decision_boundary_adaptive.toml")
STATIC = Scenario.load(ROOT / "scenarios" / "decision_boundary_static.toml")


@pytest.mark.slow
def test_adaptive_policy_reaches_95_percent_on_4_of_5_seeds(tmp_path):
    jobs = decision_boundary_jobs(ADAPTIVE, STATIC, [0, 1, 2, 3, 4], [], tmp_path)
    summaries = run_jobs(jobs, processes=1)
    assert all(s["steps"] == 10_000 for s in summaries)
    reached = [s["first_step_accuracy_95"] is not None and s["final_accuracy"] >= 0.95 for s in summaries]
    assert sum(reached) >= 4, [s["final_accuracy"] for s in summaries]


@pytest.mark.slow
def test_shipped_static_policy_reaches_95_percent_on_4_of_5_unseen_boundaries(tmp_path):
    jobs = decision_boundary_jobs(ADAPTIVE, STATIC, [], [100, 101, 102, 103, 104], tmp_path)
    summaries = run_jobs(jobs, processes=1)
    assert all(s["parameters"]["policy"]["mode"] == "static" for s in summaries)
    assert {s["parameters"]["task"]["data_seed"] for s in summaries} == {100, 101, 102, 103, 104}
    reached = [s["final_accuracy"] >= 0.95 for s in summaries]
    assert sum(reached) >= 4, [s["final_accuracy"] for s in summaries]
