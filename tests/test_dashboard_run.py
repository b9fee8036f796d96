"""The dashboard on a results folder, without a browser: open a run, fast-forward, continue with the agents.

A results folder made by ``synapse_sim.runner.run`` opens at its checkpoint with its history in
the curves; fast-forwarding k steps in the vectorised backend and then taking one agent step
gives exactly (every array of the state, bit for bit) what a vectorised run straight to that
step gives, under every registered rule and on a 784-10 notMNIST network. Folders that cannot
be opened are clear errors before any server starts.
"""

from __future__ import annotations

import re
import time

import ipyvuetify as v
import numpy as np
import pytest
from conftest import html_of, render_page, small_scenario

from synapse_sim import Scenario, VectorEngine
from synapse_sim.dashboard import server, views
from synapse_sim.dashboard.controls import resolve, rule_controls, with_rule
from synapse_sim.dashboard.model import DashboardModel
from synapse_sim.dashboard.params import model_params
from synapse_sim.dashboard.rule_controls import dashboard_rules
from synapse_sim.dashboard.run_folder import RunFolderError, check_run_folder, open_run_folder, state_digest
from synapse_sim.rules import RULES
from synapse_sim.runner import run
from synapse_sim.scenario import SCHEMA


def tiny(rule: str = "synaptic_rl", **overrides) -> Scenario:
    base = {"layers": [2, 6, 1], "run.iterations": 24, "run.checkpoint_every": 0, "run.validate_every": 0}
    if RULES[rule].needs_classes:  # Q-AGREL and its twin: a classification task that needs no data
        base.update({"task.name": "digits", "layers": [64, 6, 10], "hidden_activation": "relu", "batch_size": 40})
        base["task.batch_interval"] = 1
    return with_rule(small_scenario(**{**base, **overrides}), rule)


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and a[key].shape == b[key].shape, key
        assert np.array_equal(a[key], b[key]), key


def vector_state(scenario: Scenario, steps: int) -> dict:
    engine = VectorEngine(scenario)
    engine.run(steps)
    return engine.checkpoint()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A 24-step synaptic-RL run on a small decision-boundary network."""
    path = tmp_path_factory.mktemp("runs") / "tiny"
    run(tiny(), path, progress=False)
    return path


# --- open a results folder ----------------------------------------------------------------------------------------
def test_a_run_folder_opens_at_its_checkpoint_with_its_history(folder):
    model = DashboardModel(run_folder=folder)
    assert model.problems == [] and model.steps == 24 and model.simulation.step_count == 24
    assert model.run_folder == folder.resolve() and model.opened_at == 24
    assert_same_state(model.checkpoint(), vector_state(tiny(), 24))
    history = np.load(folder / "history.npz")
    data = views.curves_data(model)
    np.testing.assert_array_equal(data["step"], np.arange(1, 25))
    for name in views.CURVES:
        np.testing.assert_array_equal(data[name], history[name])
    assert set(data["source"]) == {1}  # all from the run
    model.step()
    data = views.curves_data(model)
    assert data["step"][-1] == 25 and data["source"][-1] == 0 and data["step"].size == 25
    assert data["loss"][-1] == model.last_result.loss
    text = views.sources_text(data)
    assert 'data-run-steps="24"' in text and 'data-agent-steps="1"' in text and "1-24: the run" in text
    svg = views.curves_svg(data)
    assert svg.count("<polyline") == 6 and 'class="synsim-band"' in svg and 'data-steps="1-25"' in svg


def test_changed_controls_start_a_new_run_and_say_so(folder):
    model = DashboardModel(run_folder=folder, epsilon=0.5)
    assert model.steps == 0 and model.run_folder is None
    assert "differ from the run" in model.problems[-1] and "policy.epsilon" in model.problems[-1]
    model = DashboardModel(run_folder=folder.parent / "none")
    assert model.steps == 0 and "is not a folder" in model.problems[0]


# --- fast-forward: exact ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", dashboard_rules())
def test_fast_forward_then_an_agent_step_equals_the_vectorised_run(rule, tmp_path):
    scenario = tiny(rule, **{"run.validate_every": 10})
    run(scenario, tmp_path / "run", progress=False)
    model = DashboardModel(run_folder=tmp_path / "run")
    assert model.problems == [] and model.steps == 24
    model.step()  # an agent step first: its row moves from the DataCollector to the recorded curves
    assert model.fast_forward(17) == 17 and model.steps == 42
    model.step()
    assert model.steps == 43
    expected = vector_state(scenario, 43)
    assert_same_state(model.checkpoint(), expected)
    assert model.digests()[1] == state_digest(expected)
    data = views.curves_data(model)
    np.testing.assert_array_equal(data["step"], np.arange(1, 44))
    np.testing.assert_array_equal(data["source"], [1] * 24 + [0] + [2] * 17 + [0])
    held_out = scenario["task"]["name"] != "decision_boundary"  # the boundary task has no held-out data
    assert (data["validation_step"].size > 0) == held_out
    engine = VectorEngine(scenario)
    losses = [engine.step().loss for _ in range(43)]
    np.testing.assert_array_equal(data["loss"], losses)
    assert model.fast_forwards == [(25, 42)]
    assert len(model.action_log) == 19 and np.array_equal(model.action_log[-1], model.actions())


@pytest.mark.parametrize("rule", dashboard_rules())
def test_playing_vectorised_between_renders_gives_the_same_steps(rule):
    """The page's default when it renders every N-th step: each render's N steps in the vectorised engine (kept
    from render to render), the state adopted by the agents; an agent step in between, and play goes on exactly."""
    scenario = tiny(rule)
    model = DashboardModel(base_scenario=scenario)
    model.vectorised_steps = 10
    model.step()
    engine = model._engine
    model.step()
    assert model.steps == 20 and model._engine is engine  # the same engine went on: nothing was restored
    assert_same_state(model.checkpoint(), vector_state(scenario, 20))
    model.vectorised_steps = 0
    model.step()  # an agent step: the engine no longer holds the agents' state
    model.vectorised_steps = 5
    model.step()
    assert model.steps == 26 and model._engine is not engine
    assert_same_state(model.checkpoint(), vector_state(scenario, 26))
    fresh = DashboardModel(base_scenario=scenario)
    fresh.restore(vector_state(scenario, 26))
    for mine, theirs in zip(model.synapses, fresh.synapses, strict=True):  # the adopted derived memory too
        assert mine.memory.keys() == theirs.memory.keys()
        for name, value in mine.memory.items():
            np.testing.assert_array_equal(value, theirs.memory[name])
            assert np.asarray(value).dtype == np.asarray(theirs.memory[name]).dtype
    data = views.curves_data(model)
    np.testing.assert_array_equal(data["step"], np.arange(0, 27))  # step 0: the initial network
    np.testing.assert_array_equal(data["source"], [0] + [2] * 20 + [0] + [2] * 5)  # fast-forwarded, the agents'


def test_fast_forward_from_a_new_model_and_stopping_early():
    scenario = tiny("synaptic_rl")
    seen = []
    model = DashboardModel(base_scenario=scenario)
    done = model.fast_forward(10, progress=lambda d, total: seen.append((d, total)), stop=lambda: len(seen) >= 4)
    assert done == 4 and seen[-1] == (4, 10) and model.steps == 4
    model.step()
    assert_same_state(model.checkpoint(), vector_state(scenario, 5))
    data = views.curves_data(model)
    np.testing.assert_array_equal(data["step"], np.arange(0, 6))  # step 0: the initial network
    np.testing.assert_array_equal(data["source"], [0, 2, 2, 2, 2, 0])
    assert model.fast_forward(0) == 0


def test_a_784_10_notmnist_folder_fast_forwards_exactly(notmnist_path, tmp_path):
    scenario = Scenario.load("notmnist_0hu").with_overrides(
        {
            "task.data": str(notmnist_path),
            "task.batch_size": 500,
            "task.batch_interval": 500,
            "run.iterations": 40,
            "run.validate_every": 20,
            "run.checkpoint_every": 0,
        }
    )
    run(scenario, tmp_path / "ocr", progress=False)
    model = DashboardModel(run_folder=tmp_path / "ocr")
    assert model.problems == [] and model.steps == 40 and model.topology.n_synapses == 7850
    assert views.curves_data(model)["validation_step"].tolist() == [20, 40]
    model.fast_forward(30)
    assert views.curves_data(model)["validation_step"].tolist() == [20, 40, 60]  # the run's, then the fast-forward's
    model.step()
    expected = vector_state(scenario, 71)
    assert_same_state(model.checkpoint(), expected)
    assert model.digests()[1] == state_digest(expected)


# --- folders that cannot be opened --------------------------------------------------------------------------------
def test_a_folder_that_is_not_a_run_is_a_clear_error_before_any_server(folder, tmp_path, monkeypatch, capsys):
    def no_server(*args, **kwargs):
        raise AssertionError("the server must not start")

    monkeypatch.setattr(server.subprocess, "Popen", no_server)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunFolderError, match=r"scenario\.toml and checkpoint\.npz missing"):
        open_run_folder(empty)
    assert server.main([str(empty)]) == 2
    assert "scenario.toml and checkpoint.npz missing" in capsys.readouterr().err

    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "scenario.toml").write_text((folder / "scenario.toml").read_text())
    assert server.main([str(partial)]) == 2
    assert "checkpoint.npz missing" in capsys.readouterr().err

    (partial / "checkpoint.npz").write_bytes(b"not a zip file")
    assert server.main([str(partial)]) == 2
    assert "corrupt or unreadable" in capsys.readouterr().err

    other = tmp_path / "other"
    run(tiny("spsa"), other, progress=False)
    (other / "scenario.toml").write_text((folder / "scenario.toml").read_text())  # a synaptic-RL scenario
    with pytest.raises(RunFolderError, match=r"lacks .*another learning rule"):
        check_run_folder(other)
    (other / "scenario.toml").write_text(tiny(layers=[2, 3, 1]).to_toml())
    with pytest.raises(RunFolderError, match="holds 25 weights, but the folder's scenario has 13 synapses"):
        open_run_folder(other)

    baseline = tmp_path / "gd"
    baseline.mkdir()
    (baseline / "scenario.toml").write_text("")
    (baseline / "weights.npz").write_bytes(b"")
    with pytest.raises(RunFolderError, match="gradient-descent baseline"):
        open_run_folder(baseline)

    assert server.main([str(tmp_path / "nowhere")]) == 2
    assert "nor a results folder" in capsys.readouterr().err


def test_the_server_passes_a_folder_to_the_app_by_its_own_variable(folder, tmp_path):
    env = server.server_environment(base={"PATH": "/bin", server.SCENARIO_ENV: "x"}, run_folder=folder)
    assert env[server.RUN_ENV] == str(folder.resolve()) and server.SCENARIO_ENV not in env
    env = server.server_environment("decision_boundary_spsa", base={server.RUN_ENV: "x"})
    assert env[server.SCENARIO_ENV] == "decision_boundary_spsa" and server.RUN_ENV not in env
    assert server.check_target(str(folder)) == (None, str(folder.resolve()))
    assert server.check_target("decision_boundary_spsa") == ("decision_boundary_spsa", None)


# --- every rule's controls come from its scenario sections ---------------------------------------------------------
def test_rule_controls_come_from_the_registry():
    controls = rule_controls()
    assert set(controls) == set(dashboard_rules()) - {"synaptic_rl"}
    for rule, items in controls.items():
        keys = {c.key for c in items}
        for section, fields in RULES[rule].sections.items():
            for key, field in fields.items():
                expected = field.kind in ("float", "int", "bool") or bool(field.choices)
                assert (f"{section}.{key}" in keys) == expected, (rule, section, key)
    params = model_params()
    assert params["spsa_schedule"]["type"] == "Select" and params["spsa_schedule"]["values"] == ["constant", "standard"]
    assert params["np_per_example"]["type"] == "Checkbox" and params["spsa_stability"]["type"] == "InputText"
    scenario, _, problems = resolve(rule="spsa", spsa_schedule="standard", spsa_stability="5", np_per_example=False)
    assert problems == [] and scenario["spsa"]["schedule"] == "standard" and scenario["spsa"]["stability"] == 5.0
    scenario, _, problems = resolve(rule="node_perturbation", np_per_example=False, spsa_stability="x")
    assert problems == [] and scenario["node_perturbation"]["per_example"] is False
    _, _, problems = resolve(rule="spsa", spsa_stability="x")
    assert "spsa.stability = 'x' is not a number" in problems[0]
    assert SCHEMA["spsa"]["stability"].kind == "float"
    with pytest.raises(TypeError, match="unknown dashboard controls"):
        resolve(spsa_nonsense=1)


# --- the page: tab name, slider values, run panel, fast-forward button ---------------------------------------------
def test_page_names_its_tab_and_shows_slider_values(folder):
    rc = render_page(scenario=small_scenario())
    tabs = [w.children[0] for w in rc.find(v.Tab).widgets]
    assert tabs == ["agent view"] and not any("Page" in t for t in tabs)
    text = html_of(rc)
    values = dict(re.findall(r'slider-label">([^<]+)</span>: <b class="synsim-slider-value">([^<]+)</b>', text))
    assert values["synaptic_rl: epsilon (exploration)"] == "0.25" and values["synaptic_rl: gamma (discount)"] == "0.90"
    assert values["Play Interval (ms)"] == "10" and values["Render Interval (steps)"] == "1"
    (epsilon,) = [w for w in rc.find(v.Slider).widgets if w.min == 0.0 and w.max == 1.0 and w.step == 0.01][:1]
    epsilon.v_model = 0.4
    assert 'synaptic_rl: epsilon (exploration)</span>: <b class="synsim-slider-value">0.40</b>' in html_of(rc)
    # only the chosen rule's controls are shown
    labels = [w.label for w in rc.find(v.Select).widgets]
    assert any(label.startswith("synaptic_rl: policy") for label in labels) and not any("spsa" in x for x in labels)
    (rule,) = [w for w in rc.find(v.Select).widgets if w.label.startswith("learning rule")]
    rule.v_model = "spsa"
    labels = [w.label for w in rc.find(v.Select).widgets]
    assert "spsa: a (step size)" in labels and not any(label.startswith("synaptic_rl") for label in labels)


def test_page_on_a_run_folder_fast_forwards_and_steps(folder):
    rc = render_page(run_folder=folder)
    text = html_of(rc)
    assert 'class="synsim-run" data-step="24"' in text and f'data-folder="{folder.resolve()}"' in text
    assert 'data-run-steps="24"' in text and "from its checkpoint at step <b>24</b>" in text
    (n_steps,) = [w for w in rc.find(v.TextField).widgets if w.label.startswith("fast-forward steps")]
    assert n_steps.v_model == "1000"
    n_steps.v_model = "30"
    n_steps.fire_event("focusout", None)
    rc.find(v.Btn, children=["Fast-forward"]).widget.click()
    deadline = time.time() + 60
    while 'class="synsim-run" data-step="54"' not in html_of(rc):
        assert time.time() < deadline, "the fast-forward did not finish"
        time.sleep(0.05)
    rc.find(v.Btn, children=["Step"]).widget.click()
    text = html_of(rc)
    assert 'class="synsim-run" data-step="55"' in text and "24&rarr;54" in text
    expected = vector_state(tiny(), 55)
    assert f'data-state-sha256="{state_digest(expected)}"' in text
    assert 'data-fast-forward-steps="30"' in text and 'data-agent-steps="1"' in text
