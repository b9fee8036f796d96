"""notMNIST as a task: the scenarios, the mirror at 784-10, exact resume, a short run that learns."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_mirror import assert_same_state, run_both
from test_resume import assert_same_arrays, read_npz

from synapse_sim import Scenario, VectorEngine
from synapse_sim.runner import run
from synapse_sim.tasks.notmnist import build as build_notmnist_task

ROOT = Path(__file__).resolve().parents[1]


def notmnist_scenario(path, name="notmnist_0hu.toml", **overrides):
    return Scenario.load(ROOT / "scenarios" / name).with_overrides({"task.data": str(path), **overrides})


def test_table1_scenarios_hold_the_paper_settings():
    rl0 = Scenario.load(ROOT / "scenarios" / "notmnist_0hu.toml")
    rl32 = Scenario.load(ROOT / "scenarios" / "notmnist_32hu.toml")
    assert rl0["network"]["layers"] == [784, 10] and rl32["network"]["layers"] == [784, 32, 10]
    for s in (rl0, rl32):
        assert s["policy"]["mode"] == "static" and s["policy"]["file"] == "shipped:paper_ocr"
        assert s["policy"]["epsilon"] == 0.1 and s["synapse"]["alpha_s"] == 1e-4
        assert s["task"]["batch_size"] == 5000 and s["task"]["batch_interval"] == 5000
        assert s["run"]["early_stop_iteration"] == 25_000 and s["run"]["early_stop_accuracy"] == 0.2
    assert rl0["run"]["iterations"] == 200_000 and rl32["run"]["iterations"] == 500_000
    assert rl32["synapse"]["alpha_s_schedule"] == [[60000, 5e-05]]
    for name in ("notmnist_0hu_gd.toml", "notmnist_32hu_gd.toml"):
        gd = Scenario.load(ROOT / "scenarios" / name)
        assert gd["run"]["method"] == "gradient_descent" and gd["gradient"]["learning_rate"] == 0.1


def test_task_uses_the_seeded_split(notmnist_path):
    scenario = notmnist_scenario(notmnist_path)
    task = build_notmnist_task(scenario, np.float32)
    assert task.x_train.shape == (7500, 784) and task.x_val.shape == (2500, 784)
    assert task.class_names == tuple("ABCDEFGHIJ")  # the dashboard names the classes by letter
    again = build_notmnist_task(scenario.with_overrides({"run.seed": 0}), np.float32)
    other = build_notmnist_task(scenario.with_overrides({"run.seed": 1}), np.float32)
    assert np.array_equal(task.y_val, again.y_val) and not np.array_equal(task.y_val, other.y_val)
    x_t, labels = task.batch(1)
    assert x_t.shape == (785, 5000) and np.all(x_t[-1] == 1) and labels.shape == (5000,)
    assert task.batch_id(5000) == 0 and task.batch_id(5001) == 1


def test_wrong_network_shape_is_a_clear_error(notmnist_path):
    with pytest.raises(ValueError, match=r"must be \[784, \.\.\., 10\]"):
        build_notmnist_task(notmnist_scenario(notmnist_path, layers=[784, 5]), np.float32)


@pytest.mark.parametrize(
    ("shape", "layers", "message"),
    [
        (
            (40, 784),
            [100, 10],
            r"network.layers = \[100, 10\] does not fit .* 28x28 = 784 pixels, so .* must be \[784, \.\.\., 10\]",
        ),
        (
            (40, 32, 32),
            [784, 10],
            r"32x32 = 1,024 pixels, so network.layers must be \[1024, \.\.\., 10\].* expect 28x28",
        ),
        ((40, 784), [784, 32, 9], r"must be \[784, \.\.\., 10\]"),
    ],
    ids=["inputs", "32x32-images", "outputs"],
)
def test_a_network_that_does_not_fit_the_data_is_a_scenario_error(tmp_path, shape, layers, message):
    """These were bare ValueErrors: a traceback from the command line."""
    from synapse_sim.scenario import ScenarioError

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", images=rng.integers(0, 256, shape, dtype=np.uint8), labels=np.arange(40) % 10)
    scenario = notmnist_scenario(tmp_path / "d.npz", layers=layers)
    with pytest.raises(ScenarioError, match=message):
        build_notmnist_task(scenario, np.float32)
    assert build_notmnist_task(scenario.with_overrides({"layers": [int(np.prod(shape[1:])), 10]}), np.float32)


def test_missing_data_is_a_clear_error(tmp_path, monkeypatch):
    from synapse_sim.tasks.data import DataError

    monkeypatch.delenv("SYNAPSE_SIM_NOTMNIST", raising=False)
    scenario = Scenario.load(ROOT / "scenarios" / "notmnist_0hu.toml").with_overrides(
        {"task.data": str(tmp_path / "x")}
    )
    with pytest.raises(DataError, match="SYNAPSE_SIM_NOTMNIST"):
        VectorEngine(scenario)


def test_mirror_784_10_on_the_sample(notmnist_path):
    scenario = notmnist_scenario(notmnist_path, batch_size=500, batch_interval=2)
    vector, model = run_both(scenario, 5)
    assert model.topology.n_synapses == 7850
    assert_same_state(vector, model)


def test_notmnist_run_resumes_bit_for_bit(tmp_path, notmnist_path):
    scenario = notmnist_scenario(
        notmnist_path,
        "notmnist_32hu.toml",
        iterations=40,
        batch_size=300,
        batch_interval=7,
        validate_every=10,
        checkpoint_every=15,
        alpha_s_schedule=[[20, 5e-5]],
    )
    run(scenario, tmp_path / "full", progress=False)
    run(scenario, tmp_path / "part", progress=False, interrupt_at=23)
    summary = run(None, tmp_path / "part", resume=True, progress=False)
    assert summary["steps"] == 40 and len(summary["parameters"]["synapse"]["alpha_s_schedule"]) == 1
    history = read_npz(tmp_path / "full" / "history.npz")
    assert_same_arrays(history, read_npz(tmp_path / "part" / "history.npz"))
    assert history["validation_step"].tolist() == [10, 20, 30, 40]
    assert history["step_size"][18] == 1e-4 and history["step_size"][19] == 5e-5


def test_short_run_learns_far_above_chance(notmnist_path):
    scenario = notmnist_scenario(notmnist_path, alpha_s=1e-3, iterations=3000, batch_size=1000, batch_interval=1000)
    engine = VectorEngine(scenario)
    engine.run(3000)
    accuracy = engine.simulation.task.validate(engine.weight_matrices())["accuracy"]
    assert accuracy >= 0.40, accuracy


def test_gradient_descent_twin_runs_on_the_same_split_and_initialisation(tmp_path, notmnist_path):
    from synapse_sim.baselines.gradient import evaluate
    from synapse_sim.engine.simulation import Simulation
    from synapse_sim.tasks.notmnist import notmnist_split

    scenario = notmnist_scenario(notmnist_path, "notmnist_0hu_gd.toml", max_epochs=30, evaluate_every=10)
    summary = run(scenario, tmp_path / "gd", progress=False)
    assert summary["method"] == "gradient_descent" and summary["epochs"] == 30
    history = read_npz(tmp_path / "gd" / "history.npz")
    assert history["epoch"].tolist() == [0, 10, 20, 30]
    *_, x_val, y_val = notmnist_split(scenario)
    rl_start = Simulation(notmnist_scenario(notmnist_path))
    w0 = rl_start.topology.matrices(rl_start.initial_weights())
    assert np.isclose(history["val_loss"][0], evaluate(w0, x_val, y_val)[0], rtol=1e-5)
    assert history["val_loss"][-1] < history["val_loss"][0]


def test_table1_replaces_runs_stopped_early_by_the_next_seed(tmp_path, notmnist_path):
    import shutil

    from synapse_sim.studies.experiments import run_table1, table1_markdown, table1_rows

    scenarios = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", scenarios)
    rl32 = scenarios / "notmnist_32hu.toml"
    rl32.write_text(rl32.read_text().replace("early_stop_iteration = 25000", "early_stop_iteration = 3"))
    rl32.write_text(rl32.read_text().replace("early_stop_accuracy = 0.2", "early_stop_accuracy = 1.0"))
    jobs, summaries, stopped = run_table1(
        scenarios,
        1,
        tmp_path / "table",
        data=notmnist_path,
        max_iterations=6,
        sets=["gradient.max_epochs=2", "gradient.evaluate_every=1"],
        processes=1,
        max_seeds=2,
    )
    assert stopped == [("Syn. RL 32 HU", 0), ("Syn. RL 32 HU", 1)]
    assert (tmp_path / "table" / "notmnist_32hu_gd" / "seed1").is_dir(), "the twin runs on the replacement seed"
    assert sorted((j.label, j.scenario["run"]["seed"]) for j in jobs) == [("Grad. desc. 0 HU", 0), ("Syn. RL 0 HU", 0)]
    assert all(s["steps"] == 6 for j, s in zip(jobs, summaries, strict=True) if j.label == "Syn. RL 0 HU")
    rows = table1_rows(jobs, summaries, stopped)
    assert [r["experiment"] for r in rows] == ["Syn. RL 0 HU", "Grad. desc. 0 HU"]
    assert "Syn. RL 32 HU" not in table1_markdown(rows)


def test_table1_counts_stopped_runs_in_the_table():
    from synapse_sim.studies.experiments import _runs_cell, table1_seeds_to_add

    done = {"status": "completed"}
    stop = {"status": "stopped early (training accuracy 0.100 < 0.2 at 25000)"}
    seeds = {"Syn. RL 32 HU": [0, 1, 2], "Grad. desc. 32 HU": [0, 1, 2], "Syn. RL 0 HU": [0, 1, 2]}
    summaries = {("Syn. RL 32 HU", s): stop if s == 1 else done for s in range(3)}
    summaries |= {("Syn. RL 0 HU", s): done for s in range(3)}
    assert table1_seeds_to_add(seeds, summaries, 3, 6) == {"Syn. RL 32 HU": [3], "Grad. desc. 32 HU": [3]}
    assert table1_seeds_to_add(seeds, summaries, 3, 3) == {}
    assert _runs_cell({"runs": 5, "stopped_early": [1]}) == "5 (+1 stopped early: seed 1)"


def test_policies_learned_on_boundaries_can_be_screened_on_notmnist(tmp_path, notmnist_path):
    from conftest import small_scenario

    from synapse_sim.studies.experiments import select_policy

    adaptive = small_scenario(iterations=60)
    static = notmnist_scenario(notmnist_path, **{"run.validate_every": 4})
    best, report = select_policy(adaptive, static, [0, 1], [7], tmp_path, processes=1, screen_iterations=8)
    for seed in (0, 1):
        summary = json.loads((tmp_path / "screen" / f"policy{seed}" / "seed7" / "summary.json").read_text())
        assert summary["steps"] == 8 and summary["parameters"]["run"]["seed"] == 7
        assert f"{summary['final_validation_accuracy']:.1%}" in report
    assert "screen notmnist seeds [7]" in report
    assert best.parent.name in ("seed0", "seed1") and best.with_suffix(".npz").is_file()
