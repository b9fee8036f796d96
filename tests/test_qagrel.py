"""Q-AGREL: trials, one broadcast RPE per trial, tags of pre activity x gated feedback from the selected output."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest

from synapse_sim import Scenario, ScenarioError, VectorEngine, check_rule
from synapse_sim.randomness import STREAM_BATCH, generator
from synapse_sim.rules.qagrel import QAgrel
from synapse_sim.tasks import ClassificationTask
from synapse_sim.tasks.trials import select_actions


def blobs_task(n_in=6, n_classes=4, n=400, seed=0, batch_size=50, activation="relu", dtype=np.float64):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    centres = rng.normal(scale=2.0, size=(n_classes, n_in))
    x = centres[labels] + rng.normal(scale=0.8, size=(n, n_in))
    split = n * 3 // 4
    return ClassificationTask(
        x[:split],
        labels[:split],
        x[split:],
        labels[split:],
        functools.partial(generator, seed, STREAM_BATCH),
        batch_size=batch_size,
        batch_interval=1,
        hidden_activation=activation,
        dtype=np.dtype(dtype),
    )


def scenario(layers, **qagrel) -> Scenario:
    keys = {f"qagrel.{k}": v for k, v in qagrel.items()}
    return Scenario().with_overrides(
        {"task.name": "notmnist", "run.method": "qagrel", "layers": layers, "hidden_activation": "relu", **keys}
    )


@pytest.mark.parametrize("feedback", ["symmetric", "learned", "fixed"])
def test_check_rule_passes_for_every_feedback_variant(feedback):
    report = check_rule(QAgrel(alpha=0.5, exploration=0.2, feedback=feedback))
    assert report.ok, str(report)


def backprop_step(weights, x_t, labels, alpha):
    """One step of plain backprop on E = mean_n 0.5 * (r_n - q_s,n)^2 with s the greedy action (ReLU MLP)."""
    h, inputs, zs = x_t, [], []
    for index, w in enumerate(weights):
        inputs.append(h)
        z = w.T @ h
        zs.append(z)
        h = z if index == len(weights) - 1 else np.vstack([np.maximum(z, 0), np.ones((1, z.shape[1]))])
    q = h
    n = labels.size
    s = q.argmax(axis=0)
    r = (s == labels).astype(float)
    delta = np.zeros_like(q)
    delta[s, np.arange(n)] = -(r - q[s, np.arange(n)]) / n  # dE/dq
    grads = [None] * len(weights)
    for index in range(len(weights) - 1, -1, -1):
        grads[index] = inputs[index] @ delta.T
        if index:
            delta = (weights[index][:-1] @ delta) * (zs[index - 1] > 0)
    return [w - alpha * g for w, g in zip(weights, grads, strict=True)], r


def test_symmetric_update_with_no_exploration_is_one_backprop_step():
    """The paper's equivalence: with feedback = forward weights and epsilon = 0, one update is backprop
    of 0.5 * (r - q_s)^2 on the selected output (to float64 rounding)."""
    task = blobs_task()
    engine = VectorEngine(scenario([6, 8, 5, 4], alpha=0.7, exploration=0.0), task=task)
    before = [w.copy() for w in engine.weight_matrices()]
    x_t, labels = task.batch(1)
    expected, rewards = backprop_step(before, x_t, labels, 0.7)
    result = engine.step()
    for got, want in zip(engine.weight_matrices(), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    assert np.abs(expected[0] - before[0]).max() > 1e-4  # the step moved the first layer: feedback reached it
    assert result.reward == pytest.approx(rewards.mean())  # the records show the mean reward per trial


def test_the_backprop_reference_is_itself_right():
    """Finite differences of E confirm the reference step used above."""
    task = blobs_task(seed=3)
    engine = VectorEngine(scenario([6, 5, 4]), task=task)
    weights = [w.copy() for w in engine.weight_matrices()]
    x_t, labels = task.batch(1)

    def energy(ws):
        h = x_t
        for index, w in enumerate(ws):
            z = w.T @ h
            h = z if index == len(ws) - 1 else np.vstack([np.maximum(z, 0), np.ones((1, z.shape[1]))])
        s = h.argmax(axis=0)
        r = (s == labels).astype(float)
        return 0.5 * np.mean((r - h[s, np.arange(labels.size)]) ** 2)

    stepped, _ = backprop_step(weights, x_t, labels, 1.0)
    for layer, (i, j) in ((0, (2, 1)), (1, (3, 2)), (1, (5, 0))):
        eps = 1e-6
        plus = [w.copy() for w in weights]
        plus[layer][i, j] += eps
        minus = [w.copy() for w in weights]
        minus[layer][i, j] -= eps
        numeric = (energy(plus) - energy(minus)) / (2 * eps)
        assert weights[layer][i, j] - stepped[layer][i, j] == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_max_boltzmann_selection_is_greedy_without_exploration_and_samples_with_it():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(4, 2000))
    assert np.array_equal(select_actions(q, 0.0, 1.0, np.random.default_rng(1)), q.argmax(axis=0))
    explored = select_actions(q, 1.0, 1.0, np.random.default_rng(1))
    p = np.exp(q) / np.exp(q).sum(axis=0)
    assert abs(np.mean(explored == q.argmax(axis=0)) - np.mean(p.max(axis=0))) < 0.05
    assert set(np.unique(explored)) == {0, 1, 2, 3}


@pytest.mark.parametrize("feedback", ["symmetric", "learned", "fixed"])
def test_each_feedback_variant_learns_the_blobs(feedback):
    task = blobs_task(seed=1)
    engine = VectorEngine(scenario([6, 16, 4], alpha=0.3, feedback=feedback, feedback_scale=0.3), task=task)
    before = task.validate(engine.weight_matrices())["accuracy"]
    engine.run(400)
    after = task.validate(engine.weight_matrices())["accuracy"]
    assert after > 0.9 > before + 0.2


def test_learned_feedback_moves_with_the_forward_weights_and_fixed_feedback_stays():
    for feedback in ("learned", "fixed"):
        engine = VectorEngine(scenario([6, 8, 4], alpha=0.3, feedback=feedback, feedback_scale=0.2), task=blobs_task())
        w0 = engine.population.weights.copy()
        b0 = engine.population.state["feedback_weight"].copy()
        assert np.std(b0[~engine.simulation.topology.is_bias]) > 0.1
        engine.run(30)
        dw = engine.population.weights - w0
        db = engine.population.state["feedback_weight"] - b0
        assert np.abs(dw).max() > 1e-3
        if feedback == "learned":
            np.testing.assert_allclose(db, dw, rtol=1e-9, atol=1e-12)  # dB = dW: W - B stays constant
        else:
            assert not db.any()


@pytest.mark.parametrize("feedback", ["symmetric", "learned", "fixed"])
def test_feedback_synapses_are_agents_on_the_reverse_edges(feedback):
    from synapse_sim.agents import FeedbackSynapseAgent, SynapseAgent
    from synapse_sim.model import SynapseModel

    chosen = scenario([6, 5, 4], alpha=0.3, feedback=feedback, feedback_scale=0.2)
    model = SynapseModel(chosen, task=blobs_task(), activation="sid")
    engine = VectorEngine(chosen, task=blobs_task())
    for _ in range(15):
        model.step()
    engine.run(15)
    forward = {
        (u, v): sid for u, v, sid in model.graph.edges(data="sid") if not model.graph.edges[u, v].get("feedback")
    }
    assert len(forward) == model.topology.n_synapses and len(model.agents_by_type[SynapseAgent]) == len(forward)
    np.testing.assert_array_equal(model.weight_vector(), engine.population.weights)
    if feedback == "symmetric":  # the forward synapse carries its own feedback: no second agent
        assert not model.feedback_synapses and FeedbackSynapseAgent not in model.agents_by_type
        return
    agents = model.feedback_synapses
    assert len(model.agents_by_type[FeedbackSynapseAgent]) == len(agents) == len(forward)
    for agent in agents:
        assert model.graph.edges[agent.pre, agent.post] == {"sid": agent.sid, "feedback": True}
        assert forward[(agent.post, agent.pre)] == agent.sid and agent.partner.feedback is agent
        assert "feedback_weight" not in agent.partner.memory  # the weight is the feedback agent's own
    weights = np.array([agent.weight for agent in agents])
    np.testing.assert_array_equal(weights, engine.population.state["feedback_weight"])
    initial = model.simulation.initial_memory()["feedback_weight"]
    assert (weights != initial).any() if feedback == "learned" else (weights == initial).all()


def test_bad_scenarios_are_refused_by_name():
    with pytest.raises(ScenarioError, match="needs a classification task"):
        Scenario().with_overrides({"run.method": "qagrel"})
    with pytest.raises(ScenarioError, match="'learned' needs a hidden layer"):
        scenario([784, 10], feedback="learned")
    with pytest.raises(ScenarioError, match=r"qagrel\.alpha"):
        scenario([784, 30, 10], alpha=0.0)
    with pytest.raises(ScenarioError, match=r"qagrel\.feedback"):
        scenario([784, 30, 10], feedback="mirror")


def test_error_backprop_twin_is_one_minibatch_sgd_step_of_the_gradient_baseline():
    """The twin on the same machinery equals the gradient baseline's backprop (finite-difference checked
    in tests/test_gradient.py) on the step's minibatch, and a schedule changes its rate from the step named."""
    from synapse_sim.baselines.gradient import loss_and_gradients

    task = blobs_task(seed=2)
    base = scenario([6, 8, 5, 4]).with_overrides(
        {"run.method": "error_backprop", "backprop.learning_rate": 0.2, "backprop.learning_rate_schedule": [[2, 0.05]]}
    )
    engine = VectorEngine(base, task=task)
    for step, rate in ((1, 0.2), (2, 0.05)):
        before = [w.copy() for w in engine.weight_matrices()]
        x_t, labels = task.batch(step)
        grads = loss_and_gradients(before, x_t[:-1].T, labels, "relu").gradients
        engine.step()
        for got, w, g in zip(engine.weight_matrices(), before, grads, strict=True):
            np.testing.assert_allclose(got, w - rate * g, rtol=1e-10, atol=1e-13)


def test_alpha_schedule_cuts_the_q_agrel_step():
    engine = VectorEngine(scenario([6, 8, 4], alpha=0.5, alpha_schedule=[[3, 0.1]]), task=blobs_task())
    rule = engine.simulation.rule
    assert [rule.step_size(t) for t in (1, 2, 3, 4)] == [0.5, 0.5, 0.1, 0.1]
    results = engine.run(4)
    assert [r.step_size for r in results] == [0.5, 0.5, 0.1, 0.1]


def test_the_stability_rule_compares_the_last_checks_rounded():
    from types import SimpleNamespace

    from synapse_sim.runner import stable_accuracy

    rule = Scenario().with_overrides({"run.stable_checks": 3, "run.stable_precision": 0.001})
    history = SimpleNamespace(validation={"accuracy": [0.5, 0.9012, 0.9009, 0.9011]})
    assert stable_accuracy(history, rule).startswith("held-out accuracy stable at 0.9011 (to 0.001) for 3 checks")
    history.validation["accuracy"][-1] = 0.9016  # rounds to 0.902
    assert stable_accuracy(history, rule) is None
    history.validation["accuracy"] = [0.9011, 0.9011]  # fewer checks than asked
    assert stable_accuracy(history, rule) is None
    history.validation["accuracy"] = [0.0802] * 6  # still at its initial answers: a plateau, not convergence
    assert stable_accuracy(history, rule) is None
    assert stable_accuracy(history, rule.with_overrides({"run.stable_checks": 0})) is None


def test_a_run_stops_when_its_held_out_accuracy_is_stable_and_a_study_counts_it_finished(tmp_path, notmnist_path):
    from synapse_sim.runner import run
    from synapse_sim.studies.experiments import finished

    base = scenario([784, 16, 10], alpha=0.5).with_overrides(
        {
            "task.data": str(notmnist_path),
            "task.batch_size": 100,
            "task.batch_interval": 1,
            "run.iterations": 3000,
            "run.validate_every": 25,
            "run.stable_checks": 4,
            "run.stable_precision": 0.5,  # accuracies round to 0 or 1 (0.5 up): the rule fires once learning lifts
            # the held-out accuracy past 0.5, 4 checks after
        }
    )
    summary = run(base, tmp_path / "r", progress=False)
    assert summary["status"] == "completed" and 100 < summary["steps"] < 3000 and summary["steps"] % 25 == 0
    assert summary["stopped_by"].startswith("held-out accuracy stable at") and "for 4 checks" in summary["stopped_by"]
    assert finished(summary, base)
    never = base.with_overrides({"run.stable_checks": 0, "run.iterations": 125})
    summary = run(never, tmp_path / "n", progress=False)
    assert summary["steps"] == 125 and "stopped_by" not in summary


def test_digits_task_needs_no_download_and_refuses_a_network_that_does_not_fit():
    from synapse_sim.tasks import build_task

    good = Scenario().with_overrides(
        {"task.name": "digits", "run.method": "qagrel", "layers": [64, 20, 10], "hidden_activation": "relu"}
    )
    task = build_task(good, np.float32)
    assert task.x_train.shape == (1348, 64) and task.x_val.shape == (449, 64) and task.n_classes == 10
    assert 0.0 <= task.x_train.min() and task.x_train.max() <= 1.0
    with pytest.raises(ScenarioError, match=r"does not fit the 8x8 digits.*\[64, 300, 10\]"):
        build_task(good.with_overrides({"layers": [784, 20, 10]}), np.float32)


def test_qagrel_table_on_digits_writes_the_paper_layout_and_resumes(tmp_path):
    from synapse_sim.studies.qagrel_table import METHODS, qagrel_table

    out = tmp_path / "table"
    text, rows = qagrel_table("digits", None, [0], out, processes=1, max_epochs=40, networks=((100,),))
    assert [r["rule"] for r in rows] == [label for label, _, _ in METHODS]
    assert {r["hidden units"] for r in rows} == {"100"}
    backprop = rows[-1]
    assert backprop["epochs_vs_backprop"] == 1.0 and 0 < backprop["epochs_mean"] <= 40.1
    assert all(0 <= r["accuracy_mean"] <= 100 for r in rows) and backprop["accuracy_mean"] > 50
    assert "| rule | hidden units | learning rate | final accuracy (%) | epochs |" in text
    for name in (
        "qagrel_table.md",
        "qagrel_table.csv",
        "qagrel_table.json",
        "qagrel_rewards.png",
        "qagrel_classes.png",
    ):
        assert (out / name).stat().st_size > 100
    with np.load(out / "100" / "q_agrel_symmetric" / "seed0" / "history.npz") as history:
        selected, correct, presented = history["selected"], history["correct"], history["presented"]
        assert selected.shape == correct.shape == presented.shape == (history["reward"].size, 10)
        assert (selected.sum(axis=1) == 100).all() and (presented.sum(axis=1) == 100).all()
        assert (correct <= selected).all() and (correct <= presented).all()
        np.testing.assert_allclose(correct.sum(axis=1) / 100, history["reward"])  # reward 1 = right class
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("checkpoint.npz")}
    again, _ = qagrel_table("digits", None, [0], out, processes=1, max_epochs=40, networks=((100,),))
    assert again == text and {p: p.stat().st_mtime_ns for p in out.rglob("checkpoint.npz")} == stamp  # read back


def test_a_seed_that_diverges_is_a_table_entry_not_the_end_of_the_table(tmp_path, monkeypatch):
    from synapse_sim.studies import qagrel_table as study

    label, method, own = study.METHODS[0]
    monkeypatch.setattr(study, "METHODS", ((label, method, {**own, "qagrel.alpha": 1e6}), study.METHODS[-1]))
    text, rows = study.qagrel_table("digits", None, [0, 1], tmp_path, processes=1, max_epochs=4, networks=((30,),))
    assert rows[0]["diverged"] == "0 1" and np.isnan(rows[0]["accuracy_mean"]) and rows[1]["diverged"] == ""
    assert "| 0 1 |" in text and rows[1]["accuracy_mean"] > 10
    again, _ = study.qagrel_table("digits", None, [0, 1], tmp_path, processes=1, max_epochs=4, networks=((30,),))
    assert again == text  # the failed runs are read back, not rerun


def test_tuning_gives_every_method_the_same_grid_and_uses_its_best_rate(tmp_path, monkeypatch):
    from synapse_sim.studies import qagrel_table as study

    monkeypatch.setattr(study, "METHODS", (study.METHODS[0], study.METHODS[-1]))
    text, rows = study.qagrel_table(
        "digits", None, [0], tmp_path, processes=1, max_epochs=4, networks=((30,),), tune=True
    )
    tuned = sorted(p.parent.name for p in (tmp_path / "tuning").rglob("summary.json"))
    assert len(tuned) == 2 * len(study.RATE_GRIDS["coarse"])  # 3 rates per method, nothing more
    for label, method, own in study.METHODS:
        paper = own[study.rate_key(method)]
        grid = {}
        for factor in study.RATE_GRIDS["coarse"]:
            rate = paper * factor
            folder = (
                tmp_path / "tuning" / "30" / study.method_folder(label) / f"rate{rate:.4g}" / f"seed{study.TUNING_SEED}"
            )
            grid[rate] = json.loads((folder / "summary.json").read_text())["final_validation_accuracy"]
        best = max(grid, key=grid.get)
        row = next(r for r in rows if r["rule"] == label)
        assert row["learning rate"] == pytest.approx(best), (label, grid)
        run = Scenario.load(tmp_path / "30" / study.method_folder(label) / "seed0" / "scenario.toml")
        assert run.get(study.rate_key(method)) == pytest.approx(best)
    assert f"tuning seed {study.TUNING_SEED}" in text and "Tuning grid" in text
    with pytest.raises(ValueError, match="tuning seed"):
        study.qagrel_table("digits", None, [study.TUNING_SEED], tmp_path / "x", max_epochs=4, tune=True)


def test_the_fine_grid_extends_a_coarse_tuning_without_rerunning_it(tmp_path, monkeypatch):
    from synapse_sim.studies import qagrel_table as study

    monkeypatch.setattr(study, "METHODS", (study.METHODS[0], study.METHODS[-1]))
    base = study.base_scenario("digits")
    study.tune_rates(base, tmp_path, processes=1, max_epochs=4, networks=((30,),))
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("checkpoint.npz")}
    fine, grid = study.tune_rates(base, tmp_path, processes=1, max_epochs=4, networks=((30,),), grid_name="fine")
    assert len(stamps) == 2 * 3 and len(grid) == 2 * 5
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # the coarse runs are read back
    for label, method, own in study.METHODS:
        rates = sorted(g["rate"] for g in grid if g["label"] == f"{label}|30")
        paper = own[study.rate_key(method)]
        assert rates == pytest.approx([paper * f for f in sorted(study.RATE_GRIDS["fine"])])
        best = max((g for g in grid if g["label"] == f"{label}|30"), key=lambda g: g["accuracy"])
        assert fine[f"{label}|30"] == best["rate"]
    text = study.markdown([], "digits", grid, "fine")
    assert "1/3, 1/sqrt 3, 1, sqrt 3, 3" in text and "the same 5 runs" in text
    with pytest.raises(ValueError, match="unknown rate grid 'finest'"):
        study.qagrel_table("digits", None, [0], tmp_path / "x", max_epochs=4, tune=True, grid_name="finest")


def write_mnist_folder(folder, n_train=400, n_test=60, seed=0):
    """MNIST's four gzipped idx files (train + t10k), with learnable class-dependent pictures."""
    import gzip

    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, (10, 28, 28))
    folder.mkdir()
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.clip(templates[labels] + rng.normal(0, 60, (n, 28, 28)), 0, 255).astype(np.uint8)
        for kind, array, magic in (("images-idx3", images, 2051), ("labels-idx1", labels, 2049)):
            header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
            (folder / f"{prefix}-{kind}-ubyte.gz").write_bytes(gzip.compress(header + array.tobytes()))


def test_qagrel_table_reads_mnist_from_its_idx_folder(tmp_path, capsys):
    from synapse_sim.cli import main
    from synapse_sim.tasks import build_task
    from synapse_sim.tasks.data import load_notmnist

    write_mnist_folder(tmp_path / "mnist")
    data = load_notmnist(tmp_path / "mnist")
    assert len(data) == 400 and "train-images-idx3-ubyte.gz" in data.source  # t10k stays unseen
    mnist = Scenario().with_overrides(
        {"task.name": "notmnist", "task.data": str(tmp_path / "mnist"), "layers": [784, 10]}
    )
    assert build_task(mnist, np.float32).class_names == tuple("0123456789")  # MNIST's digits, not letters
    assert build_task(Scenario.load("digits_300_qagrel"), np.float32).class_names == tuple("0123456789")
    out = tmp_path / "table"
    args = ["qagrel-table", "--data", str(tmp_path / "mnist"), "--seeds", "1", "--max-epochs", "30"]
    assert main([*args, "--networks", "20", "--processes", "1", "--out", str(out)]) == 0
    rows = json.loads((out / "qagrel_table.json").read_text())
    assert [r["hidden units"] for r in rows] == ["20"] * 4
    assert rows[-1]["accuracy_mean"] > 50  # the pictures are learnable (Q-AGREL needs more than 90 steps)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        main([*args, "--networks", "20-x"])
    assert bad.value.code == 2 and "'20-x' is not hidden units like 300 or 300-100" in capsys.readouterr().err


def test_class_counts_resume_exactly(tmp_path):
    from synapse_sim.runner import run

    scenario = Scenario().with_overrides(
        {
            "task.name": "digits",
            "run.method": "qagrel",
            "layers": [64, 30, 10],
            "hidden_activation": "relu",
            "task.batch_size": 20,
            "run.iterations": 60,
            "run.checkpoint_every": 25,
        }
    )
    run(scenario, tmp_path / "straight", progress=False)
    run(scenario, tmp_path / "resumed", progress=False, interrupt_at=30)
    run(None, tmp_path / "resumed", resume=True, progress=False)
    with np.load(tmp_path / "straight" / "history.npz") as a, np.load(tmp_path / "resumed" / "history.npz") as b:
        for name in ("selected", "correct", "presented"):
            assert a[name].dtype == np.int32 and a[name].shape == (60, 10)
            np.testing.assert_array_equal(a[name], b[name])


def test_a_diverging_learning_rate_stops_clearly_and_keeps_the_last_checkpoint(tmp_path):
    from synapse_sim.folder import RunError
    from synapse_sim.runner import run

    base = Scenario().with_overrides(
        {
            "task.name": "digits",
            "run.method": "qagrel",
            "layers": [64, 30, 10],
            "hidden_activation": "relu",
            "task.batch_size": 100,
            "task.batch_interval": 1,
            "network.init_range": 0.5,
            "qagrel.alpha": 1e6,
            "network.dtype": "float32",  # the weights overflow float32 within a few steps
            "run.iterations": 200,
            "run.checkpoint_every": 1,
        }
    )
    with pytest.raises(RunError, match=r"the loss became (nan|inf).*qagrel\.alpha") as failure:
        run(base, tmp_path / "r", progress=False)
    last = int(re.search(r"from step (\d+)", str(failure.value)).group(1))  # the advice names the checkpoint
    with np.load(tmp_path / "r" / "checkpoint.npz") as checkpoint:
        assert np.isfinite(checkpoint["engine_weights"]).all() and int(checkpoint["engine_step"]) == last >= 1
