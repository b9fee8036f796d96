"""N steps + checkpoint + resume N steps == 2N steps, bit for bit."""

import numpy as np
import pytest
from conftest import random_classification_task, small_scenario

from synapse_sim import Scenario, VectorEngine
from synapse_sim.model import SynapseModel
from synapse_sim.runner import RunError, run


def assert_same_arrays(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        assert np.array_equal(a[key], b[key], equal_nan=True), key


def read_npz(path):
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("engine", ["vector", "agent"])
def test_runner_interrupt_and_resume_is_exact(tmp_path, engine):
    scenario = small_scenario(iterations=120, checkpoint_every=50, engine=engine)
    full = run(scenario, tmp_path / "full", progress=False)
    part = run(scenario, tmp_path / "part", progress=False, interrupt_at=60)
    assert part["status"].startswith("interrupted") and part["steps"] == 60
    resumed = run(None, tmp_path / "part", resume=True, progress=False)
    assert resumed["status"] == "completed" and resumed["steps"] == full["steps"] == 120
    assert_same_arrays(read_npz(tmp_path / "full" / "history.npz"), read_npz(tmp_path / "part" / "history.npz"))
    assert_same_arrays(
        read_npz(tmp_path / "full" / "checkpoint.npz") | {"wall_time": 0},
        read_npz(tmp_path / "part" / "checkpoint.npz") | {"wall_time": 0},
    )
    assert_same_arrays(read_npz(tmp_path / "full" / "policy.npz"), read_npz(tmp_path / "part" / "policy.npz"))


def test_engine_checkpoint_restore_continues_exactly_with_batches():
    scenario = Scenario().with_overrides({"layers": [784, 3, 10], "hidden_activation": "relu", "alpha_s": 1e-3})
    straight = VectorEngine(scenario, task=random_classification_task())
    straight.run(14)
    first = VectorEngine(scenario, task=random_classification_task())
    first.run(7)
    state = first.checkpoint()
    second = VectorEngine(scenario, task=random_classification_task())
    second.restore(state)
    second.run(7)
    assert_same_arrays(straight.checkpoint(), second.checkpoint())


def test_vector_checkpoint_resumes_in_the_agent_view():
    scenario = small_scenario()
    vector = VectorEngine(scenario)
    vector.run(30)
    model = SynapseModel(scenario)
    model.restore(vector.checkpoint())
    vector.run(30)
    for _ in range(30):
        model.step()
    assert_same_arrays(vector.checkpoint(), model.checkpoint())


def test_resume_refuses_changed_parameters(tmp_path):
    scenario = small_scenario(iterations=40)
    run(scenario, tmp_path / "r", progress=False, interrupt_at=20)
    with pytest.raises(RunError, match=r"cannot change \['policy.epsilon'\]"):
        run(None, tmp_path / "r", resume=True, sets=["policy.epsilon=0.1"], progress=False)
    summary = run(None, tmp_path / "r", resume=True, sets=["run.iterations=50"], progress=False)
    assert summary["steps"] == 50


def test_existing_results_are_not_overwritten(tmp_path):
    scenario = small_scenario(iterations=10)
    run(scenario, tmp_path / "r", progress=False)
    before = (tmp_path / "r" / "summary.json").read_bytes()
    with pytest.raises(RunError, match=r"already holds a run \(completed, 10 steps\); extend it with --resume"):
        run(scenario, tmp_path / "r", progress=False)
    assert (tmp_path / "r" / "summary.json").read_bytes() == before


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    scenario = small_scenario(iterations=20)
    run(scenario, tmp_path / "r", progress=False, interrupt_at=10)
    (tmp_path / "r" / "checkpoint.npz").write_bytes(b"garbage")
    with pytest.raises(RunError, match="corrupt or unreadable"):
        run(None, tmp_path / "r", resume=True, progress=False)


def test_interrupted_study_resumes_where_it_stopped(tmp_path):
    from synapse_sim.studies.experiments import Job, run_jobs

    scenario = small_scenario(iterations=60, checkpoint_every=10)
    done, interrupted, fresh = (Job(scenario.with_overrides({"run.seed": s}), tmp_path / f"s{s}") for s in (1, 2, 3))
    run(done.scenario, done.out_dir, progress=False)
    run(interrupted.scenario, interrupted.out_dir, progress=False, interrupt_at=25)
    finished_before = (done.out_dir / "summary.json").stat().st_mtime_ns
    summaries = run_jobs([done, interrupted, fresh], processes=1)
    assert [s["steps"] for s in summaries] == [60, 60, 60]
    assert (done.out_dir / "summary.json").stat().st_mtime_ns == finished_before
    reference = run(interrupted.scenario, tmp_path / "reference", progress=False)
    assert summaries[1]["final_loss"] == reference["final_loss"]
    assert_same_arrays(read_npz(interrupted.out_dir / "history.npz"), read_npz(tmp_path / "reference" / "history.npz"))


def test_early_stop_rule_stops_a_run_that_has_not_learned(tmp_path):
    from synapse_sim.studies.experiments import Job, run_job

    stopped = small_scenario(iterations=100, **{"run.early_stop_iteration": 30, "run.early_stop_accuracy": 1.0})
    summary = run(stopped, tmp_path / "stopped", progress=False)
    assert summary["status"].startswith("stopped early") and summary["steps"] == 30
    assert "< 1.0 at 30" in summary["status"]
    again = run_job(Job(stopped, tmp_path / "stopped"))
    assert again["steps"] == 30, "a study must not resume a run the rule stopped"
    passed = small_scenario(iterations=100, **{"run.early_stop_iteration": 30, "run.early_stop_accuracy": 0.0})
    assert run(passed, tmp_path / "passed", progress=False)["status"] == "completed"


def test_a_study_refuses_a_folder_that_holds_another_scenario(tmp_path):
    from synapse_sim.studies.experiments import Job, run_job

    scenario = small_scenario(iterations=20)
    run(scenario, tmp_path / "r", progress=False)
    assert run_job(Job(scenario.with_overrides({"run.iterations": 20}), tmp_path / "r"))["steps"] == 20
    other = scenario.with_overrides({"policy.epsilon": 0.1})
    with pytest.raises(RunError, match=r"holds a run of another scenario \(policy.epsilon differ\)"):
        run_job(Job(other, tmp_path / "r"))
    longer = run_job(Job(scenario.with_overrides({"run.iterations": 40}), tmp_path / "r"))
    assert longer["steps"] == 40, "more iterations of the same run continue it"


@pytest.mark.parametrize(
    ("rule", "keys"),
    [
        ("spsa", {"spsa.a": 0.02, "spsa.c": 0.01, "spsa.schedule": "standard", "spsa.stability": 5.0}),
        ("node_perturbation", {"node_perturbation.sigma": 0.05, "node_perturbation.eta": 0.3}),
    ],
)
@pytest.mark.parametrize("engine", ["vector", "agent"])
def test_every_rule_resumes_exactly_and_writes_its_rule_file(tmp_path, rule, keys, engine):
    scenario = small_scenario(iterations=80, checkpoint_every=25, engine=engine).with_overrides(
        {"run.method": rule, **keys}
    )
    full = run(scenario, tmp_path / "full", progress=False)
    run(scenario, tmp_path / "part", progress=False, interrupt_at=33)
    resumed = run(None, tmp_path / "part", resume=True, progress=False)
    assert resumed["steps"] == full["steps"] == 80 and full["rule"] == rule
    assert full["evaluations"] == resumed["evaluations"] == 160
    assert_same_arrays(read_npz(tmp_path / "full" / "history.npz"), read_npz(tmp_path / "part" / "history.npz"))
    assert_same_arrays(
        read_npz(tmp_path / "full" / "checkpoint.npz") | {"wall_time": 0},
        read_npz(tmp_path / "part" / "checkpoint.npz") | {"wall_time": 0},
    )
    import json

    assert json.loads((tmp_path / "full" / "rule.json").read_text())["rule"] == rule
    assert not (tmp_path / "full" / "policy.npz").exists()


def test_a_checkpoint_of_another_rule_is_refused(tmp_path):
    scenario = small_scenario(iterations=20)
    engine = VectorEngine(scenario)
    engine.run(5)
    other = VectorEngine(scenario.with_overrides({"run.method": "spsa"}))
    with pytest.raises(ValueError, match="another learning rule"):
        other.restore(engine.checkpoint())
