"""learn-rule: CMA-ES over a rule family's parameters on meta-training tasks that never read notMNIST;
deterministic from its seed and continued exactly after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from synapse_sim import Scenario
from synapse_sim.engine.simulation import Simulation
from synapse_sim.studies import learn_rule as lr

TINY = ["--tasks", "tiny", "--budget", "100", "--generations", "2", "--population", "3", "--processes", "1"]


def learn(out, *extra):
    command = [sys.executable, "-m", "synapse_sim", "learn-rule", "momentum_search", *TINY, *extra, "--out", str(out)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_study_killed_mid_run_continues_to_the_same_rule(tmp_path):
    whole = learn(tmp_path / "whole")
    killed = learn(tmp_path / "killed")
    progress = tmp_path / "killed" / "progress.json"
    deadline = time.monotonic() + 240
    while not progress.is_file() and time.monotonic() < deadline and killed.poll() is None:
        time.sleep(0.05)
    time.sleep(0.3)  # into generation 2
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    assert len(json.loads(progress.read_text())["rows"]) < 2
    resumed = learn(tmp_path / "killed")
    for process in (whole, resumed):
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        assert "generation 2/2" in output and "rule file:" in output
    assert (tmp_path / "whole" / "rule.toml").read_text() == (tmp_path / "killed" / "rule.toml").read_text()
    rows = [json.loads((tmp_path / name / "progress.json").read_text())["rows"] for name in ("whole", "killed")]
    assert rows[0] == rows[1] and len(rows[0]) == 2
    assert "[momentum_search]" in (tmp_path / "whole" / "rule.toml").read_text()
    other = learn(tmp_path / "whole", "--seed", "5")  # other settings in the same folder: refused, nothing lost
    output, _ = other.communicate(timeout=120)
    assert other.returncode == 1 and "other settings" in output


def test_meta_training_never_reads_notmnist(monkeypatch):
    """Every meta-training task builds with the notMNIST loader made to fail, and none names notMNIST data."""
    from synapse_sim.tasks import notmnist

    def refuse(*args, **kwargs):
        raise AssertionError("meta-training read notMNIST")

    monkeypatch.setattr(notmnist, "build", refuse)
    monkeypatch.setattr(notmnist, "_dataset", refuse)
    monkeypatch.setenv("SYNAPSE_SIM_NOTMNIST", "/nonexistent")
    names = set()
    for family_name, family in lr.FAMILIES.items():
        study = lr.Study(family_name, 100, 1, 4, 1, 0)
        settings = family.settings([p.coordinate() + 0.5 for p in family.parameters])
        for size in ("full", "tiny"):
            for task in lr.meta_tasks(size).values():
                scenario = lr.lifetime_scenario(study, task, settings, 0)
                names.add(scenario["task"]["name"])
                assert scenario["task"]["data"] is None and scenario["run"]["seed"] not in range(5)
                Simulation(scenario)  # builds the task
    assert "notmnist" not in names and {"teacher", "digits", "decision_boundary"} <= names
    assert [784, 10] in [t["network.layers"] for t in lr.meta_tasks("full").values()]


def test_a_diverged_lifetime_scores_zero_and_parameters_map_back():
    assert lr.lifetime_score(None, {"status": "failed: the loss became nan"}) == 0.0
    for p in lr.FAMILIES["momentum_search"].parameters:
        assert p.value(p.coordinate()) == pytest.approx(p.start)
    far = lr.FAMILIES["momentum_search"].settings([800.0] * 6)  # exp(800) overflows a float
    assert far["momentum_search.c"] == far["momentum_search.eta"] == 1e6
    near = lr.FAMILIES["momentum_search"].settings([-800.0] * 6)
    assert near["momentum_search.rho_kept"] == near["momentum_search.rho_dropped"] == 0.0
    assert 0.0 < near["momentum_search.c"] < 1e-300  # a step of 0 is refused at load
    assert far["momentum_search.decay"] == 1.0 and far["momentum_search.beta"] == 10.0  # the schema's bounds
    assert near["momentum_search.beta"] == -10.0
    for family in lr.FAMILIES.values():  # a candidate however far is a scenario that loads, not an error ending
        for x in (800.0, -800.0):  # the study
            settings = family.settings([x] * len(family.parameters))
            scenario = Scenario().with_overrides({"run.method": family.rule, **settings})
            floats = {k: v for k, v in settings.items() if isinstance(v, float)}
            assert floats and all(scenario[k.partition(".")[0]][k.partition(".")[2]] == v for k, v in floats.items())
    inside = [p.coordinate() + 0.5 for p in lr.FAMILIES["momentum_search"].parameters]
    family = lr.FAMILIES["momentum_search"]
    unclipped = {f"momentum_search.{k}": v for k, v in family.theta(inside).items()}
    assert {k: v for k, v in family.settings(inside).items() if k in unclipped} == unclipped
    randn = lr.Randn(3)
    assert np.array_equal(randn(2, 5), lr.Randn(3)(2, 5))
    state = np.random.get_state()[1].copy()
    lr.Randn(4)(3, 3)
    assert np.array_equal(np.random.get_state()[1], state)  # NumPy's global generator is never touched


def test_the_teacher_task_is_learnable_deterministic_and_sized_by_the_network():
    from synapse_sim import Scenario, VectorEngine

    settings = {"task.name": "teacher", "network.layers": [64, 6], "network.hidden_activation": "relu"}
    settings.update({"teacher.n_examples": 800, "task.batch_size": 200, "task.batch_interval": 100})
    settings.update({"run.method": "keep_or_revert", "keep_or_revert.a": 0.02, "run.iterations": 400})
    scenario = Scenario().with_overrides(settings)
    task = Simulation(scenario).task
    assert task.x_train.shape == (600, 64) and task.x_val.shape == (200, 64)
    assert set(np.unique(task.y_train)) == set(range(6))  # every class drawn
    assert np.array_equal(task.y_val, Simulation(scenario).task.y_val)
    other = Simulation(scenario.with_overrides({"task.data_seed": 9})).task
    assert not np.array_equal(task.y_val, other.y_val)
    engine = VectorEngine(scenario)
    before = task.validate(engine.weight_matrices())["accuracy"]
    engine.run(400)
    assert task.validate(engine.weight_matrices())["accuracy"] > before + 0.15


def test_a_study_extends_to_more_generations_and_bad_folders_are_clear_errors(tmp_path):
    one = lr.Study("momentum_search", 40, 1, 2, 1, 0, size="tiny")
    lr.learn_rule(one, tmp_path / "s", processes=1, log=lambda _: None)
    lr.learn_rule(lr.Study("momentum_search", 40, 2, 2, 1, 0, size="tiny"), tmp_path / "s", processes=1, log=print)
    assert len(json.loads((tmp_path / "s" / "progress.json").read_text())["rows"]) == 2  # continued, not restarted
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        lr.learn_rule(one, tmp_path / "file", processes=1)
    (tmp_path / "s" / "strategy.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match=r"strategy\.pkl cannot be read.*move it away"):
        lr.learn_rule(one, tmp_path / "s", processes=1)
    assert (tmp_path / "s" / "rule.toml").is_file()  # nothing of the study was removed
