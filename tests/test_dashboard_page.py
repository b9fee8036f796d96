"""The dashboard page without a browser: its controls become scenario keys, the rule switch and Reset,
stepping and resetting on SolaraViz, the server's loopback defaults, the front-end assets unpacked from
the installed Solara (no network), the runs page, and the downloads of curves and raster.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile

import ipyvuetify as v
import pytest
import solara
from conftest import html_of, random_classification_task, render_page, small_scenario, stepped
from mesa.experimental.scenarios import Scenario as MesaScenario

from synapse_sim.dashboard import assets, server, views
from synapse_sim.dashboard.components import (
    CurvesView,
    NetworkView,
    RasterView,
)
from synapse_sim.dashboard.model import DashboardModel, initial_kwargs, model_params, parse_hidden, resolve
from synapse_sim.dashboard.rule_controls import dashboard_rules, learned_choices
from synapse_sim.model import SynapseModel


def test_rule_controls_become_that_rules_scenario_keys():
    base = small_scenario()
    synaptic = {"epsilon": 0.5, "alpha_s": 0.01, "alpha_q": 0.1, "gamma": 0.5, "policy": "static: shipped"}
    scenario, _, problems = resolve(
        base, rule="spsa", spsa_a="0.01", spsa_c=0.002, np_sigma=0.05, np_eta=0.3, **synaptic
    )
    assert problems == []  # the synaptic-RL controls are ignored, not refused
    assert scenario["run"]["method"] == "spsa" and scenario["spsa"]["a"] == 0.01 and scenario["spsa"]["c"] == 0.002
    assert scenario["policy"] == base["policy"] and scenario["synapse"] == base["synapse"]
    assert scenario["node_perturbation"] == base["node_perturbation"]

    scenario, _, problems = resolve(base, rule="node_perturbation", np_sigma=0.05, np_eta="0.3", spsa_a=0.05)
    assert problems == [] and scenario["run"]["method"] == "node_perturbation"
    assert scenario["node_perturbation"]["sigma"] == 0.05 and scenario["node_perturbation"]["eta"] == 0.3
    assert scenario["spsa"] == base["spsa"]

    # from an SPSA scenario back to synaptic RL: the SPSA keys return to their defaults
    spsa_base = base.with_overrides({"run.method": "spsa", "spsa.a": 0.01})
    assert initial_kwargs(model_params(spsa_base))["rule"] == "spsa"
    assert initial_kwargs(model_params(spsa_base))["spsa_a"] == 0.01
    scenario, _, problems = resolve(spsa_base, rule="synaptic_rl", epsilon=0.3, spsa_a=0.05)
    assert problems == [] and scenario["run"]["method"] == "synaptic_rl"
    assert scenario["spsa"]["a"] == 0.002 and scenario["policy"]["epsilon"] == 0.3
    assert resolve(spsa_base)[0]["spsa"]["a"] == 0.01  # no rule control: the base scenario's rule and values

    # an unknown rule or a value that is not a number lands in problems, and a working model is built
    model = DashboardModel(hidden="4", rule="hebbian")
    assert model.rule.name == "synaptic_rl" and "rule 'hebbian' is not one of" in model.problems[0]
    model = DashboardModel(hidden="4", rule="spsa", spsa_a="fast")
    assert (
        model.rule.name == "spsa" and model.rule.a == 0.002 and "spsa.a = 'fast' is not a number" in model.problems[0]
    )
    assert model_params()["rule"]["values"] == dashboard_rules() + learned_choices()

    # the notMNIST base (epsilon 0.1, alpha_s 0.0001) runs another rule: synaptic RL's keys back at their defaults
    task_object = random_classification_task(n=40, batch_size=20)
    model = stepped(DashboardModel(task=task_object, rule="node_perturbation", raster_length=5), 1)
    assert model.problems == [] and model.rule.name == "node_perturbation" and model.task is task_object
    _, rc = solara.render(NetworkView(model, solara.Reactive(0)), handle_error=False)  # drawn as weight images
    assert "28x28" in html_of(rc) and "weight change signs this step" in html_of(rc)


def test_page_switches_the_rule_with_reset():
    rc = render_page(small_scenario())
    assert 'data-rule="synaptic_rl"' in html_of(rc)
    (rule,) = [w for w in rc.find(v.Select).widgets if w.label.startswith("learning rule")]
    assert rule.items == dashboard_rules() + learned_choices()
    rule.v_model = "spsa"
    (a,) = [w for w in rc.find(v.Select).widgets if w.label.startswith("spsa: a")]
    a.v_model = 0.005
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert 'data-rule="spsa"' in html_of(rc) and "initial value: no step yet" in html_of(rc)
    rc.find(v.Btn, children=["Step"]).widget.click()
    text = html_of(rc)
    assert (
        'data-rule="spsa"' in text
        and "this step&#x27;s Delta" in text
        and "memory: perturbation" in text
        and "has no policy table" in text
    )
    assert "a 0.005" in text and "synsim-problem" not in text


# --- the page on SolaraViz: step, reset, controls -----------------------------------------------------------------
def test_page_steps_and_resets_with_the_controls():
    rc = render_page(small_scenario())
    assert 'data-step="0"' in html_of(rc)
    rc.find(v.Btn, children=["Step"]).widget.click()
    rc.find(v.Btn, children=["Step"]).widget.click()
    assert 'data-step="2"' in html_of(rc)
    seed = rc.find(v.TextField, label="seed").widget
    seed.v_model = "not a number"  # typed seeds arrive as strings, on leaving the field
    seed.fire_event("focusout", None)
    rc.find(v.Btn, children=["Reset"]).widget.click()
    text = html_of(rc)
    assert 'data-step="0"' in text and "seed &#x27;not a number&#x27; is not a whole number" in text
    seed.v_model = "7"
    seed.fire_event("focusout", None)
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert "not a whole number" not in html_of(rc)


def test_controls_become_scenario_overrides(tmp_path, monkeypatch):
    scenario, task, problems = resolve(
        small_scenario(),
        task_name="decision_boundary",
        hidden="5, 3",
        epsilon="0.3",
        alpha_s=0.002,
        alpha_q=0.05,
        gamma=0.8,
        policy="adaptive",
        seed="11",
    )
    assert problems == [] and task is None
    assert scenario["network"]["layers"] == [2, 5, 3, 1]
    assert scenario["policy"]["epsilon"] == 0.3 and scenario["synapse"]["alpha_s"] == 0.002
    assert scenario["policy"]["alpha_q"] == 0.05 and scenario["policy"]["gamma"] == 0.8
    assert scenario["run"]["seed"] == 11 and scenario["run"]["iterations"] == 100  # the rest from the base
    assert parse_hidden("") == [] and parse_hidden("32") == [32]

    # a missing policy file or missing notMNIST data falls back and says so
    model = DashboardModel(hidden="4", policy="static: file", policy_file=str(tmp_path / "none"))
    assert model.rule.policy.adaptive and "not found" in model.problems[0]
    monkeypatch.delenv("SYNAPSE_SIM_NOTMNIST", raising=False)
    monkeypatch.setattr("synapse_sim.dashboard.controls.notmnist_sample", lambda: None)
    model = DashboardModel(task_name="notmnist", hidden="", base_scenario=small_scenario())
    assert model.config["task"]["name"] == "decision_boundary" and model.config["synapse"]["alpha_s"] == 0.001
    assert "notMNIST data could not be loaded" in model.problems[-1] and "Fell back to" in model.problems[-1]
    assert "--data DIR" in model.problems[-1]

    # a classification task object is used for notMNIST, and Mesa sees no scenario of another type
    task_object = random_classification_task(n=40, batch_size=20)
    model = DashboardModel(task=task_object)
    assert model.task is task_object and model.topology.layer_sizes == (784, 10) and model.problems == []
    assert isinstance(model.scenario, MesaScenario) and model.config["task"]["name"] == "notmnist"
    params = model_params(task=task_object)
    assert initial_kwargs(params)["task_name"] == "notmnist"


def test_notmnist_from_the_controls_loads_the_sample_and_the_controls_show_what_runs(notmnist_path, monkeypatch):
    from synapse_sim.dashboard.params import control_values, pending_changes

    monkeypatch.setenv("SYNAPSE_SIM_NOTMNIST", str(notmnist_path))  # what `dashboard --data DIR` sets
    model = DashboardModel(task_name="notmnist", hidden="", alpha_s=0.01, base_scenario=small_scenario())
    assert model.problems == [] and model.config["task"]["name"] == "notmnist"
    assert model.topology.layer_sizes == (784, 10) and model.config["synapse"]["alpha_s"] == 0.01
    shown = control_values(model.config)
    assert shown["task_name"] == "notmnist" and shown["alpha_s"] == 0.01 and shown["hidden"] == ""
    assert pending_changes(shown, model.config) == []
    assert pending_changes({**shown, "alpha_s": 0.002}, model.config) == ["alpha_s"]


def test_a_bad_hidden_layer_value_is_refused_with_a_message():
    for text in ("-5", "5, -3"):
        with pytest.raises(ValueError, match="sizes must be positive whole numbers"):
            parse_hidden(text)
    model = DashboardModel(hidden="-5", base_scenario=small_scenario())
    assert model.topology.layer_sizes == tuple(small_scenario()["network"]["layers"])  # kept, not turned into 5
    assert "hidden layers '-5': sizes must be positive" in model.problems[0]
    assert parse_hidden("32-16") == [32, 16]


# --- server and assets (no network) -------------------------------------------------------------------------------
def test_server_defaults_are_loopback_and_quiet(tmp_path):
    args = server.solara_arguments(server.DEFAULT_HOST, 8765)
    assert args[:2] == ["run", "synapse_sim.app"]
    assert "127.0.0.1" in args and "--no-check-version" in args and "--no-open" in args and "--production" in args
    env = server.server_environment(tmp_path / "s.toml", base={"PATH": "/bin"})
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "False" and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env[server.SCENARIO_ENV] == str((tmp_path / "s.toml").resolve())
    assert server.server_environment(None, base={"OPENBLAS_NUM_THREADS": "4"})["OPENBLAS_NUM_THREADS"] == "4"
    assert server.main([str(tmp_path / "missing.toml")]) == 2  # a bad scenario stops before the server starts


def test_assets_pins_come_from_solaras_templates_and_unpack_into_the_cache(tmp_path, monkeypatch):
    pins = {a.name: a.version for a in assets.pinned_assets()}
    assert {"@widgetti/solara-vuetify-app", "requirejs", "font-awesome", "@widgetti/vue-grid-layout"} <= set(pins)
    assert "@widgetti/solara-vuetify3-app" not in pins  # ipyvue < 3: the Vue 2 app only
    # a stand-in for npm: `npm pack SPEC --pack-destination DIR` writes a tarball with a package/ folder
    payload = tmp_path / "payload"
    (payload / "package" / "dist").mkdir(parents=True)
    (payload / "package" / "dist" / "app.js").write_text("ok")
    with tarfile.open(tmp_path / "pkg.tgz", "w:gz") as archive:
        archive.add(payload / "package", arcname="package")
    fake = tmp_path / "npm"
    fake.write_text(
        f'#!/bin/sh\nwhile [ "$1" != "--pack-destination" ]; do shift; done\ncp {tmp_path / "pkg.tgz"} "$2"/\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cache = tmp_path / "cdn"
    asset = assets.Asset("@scope/thing", "1.2.3")
    target = assets.install_one(asset, cache, npm=str(fake), log=lambda *_: None)
    assert (target / "dist" / "app.js").read_text() == "ok" and assets.is_installed(asset, cache)
    assert assets.missing([asset], cache) == []
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    with pytest.raises(assets.AssetError, match="npm is not installed"):
        assets.install(["other@1.0.0"], cache=cache, log=lambda *_: None)
    assert os.path.isdir(cache / "@scope" / "thing@1.2.3")


def test_play_steps_wait_for_a_render_in_another_thread():
    """DashboardModel.step waits while another thread renders the page, not for its own render."""
    import threading
    import time

    from synapse_sim.dashboard.model import wait_for_page

    class RenderContext:
        _is_rendering = True
        _lock_thread = None

    page = RenderContext()
    model = DashboardModel(hidden="4")
    model.render_context = page
    threading.Timer(0.3, lambda: setattr(page, "_is_rendering", False)).start()
    start = time.monotonic()
    model.step()
    assert time.monotonic() - start >= 0.25 and model.steps == 1

    page._is_rendering, page._lock_thread = True, threading.current_thread()
    start = time.monotonic()
    wait_for_page(page, timeout=5.0)  # our own render: no wait
    assert time.monotonic() - start < 1.0
    page._lock_thread = None
    start = time.monotonic()
    wait_for_page(page, timeout=0.2)  # a render that never ends: bounded
    assert 0.15 <= time.monotonic() - start < 2.0
    wait_for_page(None)

    fresh = DashboardModel(hidden="4")
    _, rc = solara.render(NetworkView(fresh, solara.Reactive(0)), handle_error=False)
    assert fresh.render_context is rc  # the page that shows the model paces its steps


def test_a_control_rule_is_refused_by_the_dashboard_with_a_reason():
    model = DashboardModel(task_name="decision_boundary", hidden="8", rule="nrl")
    assert model.rule.name == "synaptic_rl" and "rule 'nrl' is not one of" in model.problems[0]
    assert "nrl" not in dashboard_rules() and "qagrel" in dashboard_rules()


def test_the_raster_history_is_a_control_and_the_page_shows_what_the_model_keeps():
    from synapse_sim.dashboard.controls import MAX_RASTER_LENGTH
    from synapse_sim.dashboard.params import control_values, pending_changes

    params = model_params(small_scenario(), raster_length=300)
    assert params["raster_length"]["type"] == "SliderInt" and params["raster_length"]["max"] == MAX_RASTER_LENGTH
    model = DashboardModel(**{**initial_kwargs(params), "raster_length": 600})
    assert model.action_log.maxlen == 600 and model.weight_log.maxlen == 600
    shown = control_values(model.config, model.action_log.maxlen)
    assert shown["raster_length"] == 600 and pending_changes(shown, model.config, 600) == []
    assert pending_changes({**shown, "raster_length": 900}, model.config, 600) == ["raster_length"]


def test_state_features_are_chosen_on_the_page_with_the_state_space_size_shown_before_reset():
    from synapse_sim.dashboard.controls import parse_features, state_space_note
    from synapse_sim.dashboard.params import control_values

    assert parse_features("last_actions:3, streak, weight_sign:0.01") == [
        {"name": "last_actions", "n": 3},
        {"name": "streak"},
        {"name": "weight_sign", "tol": 0.01},
    ]
    assert state_space_note("last_actions:2, last_rewards:2") == "state space: 81 states (9 x 9)"
    assert "'nope' is not registered; registered: last_actions" in state_space_note("last_actions, nope")
    model = DashboardModel(base_scenario=small_scenario(), features="last_actions:1, streak")
    assert model.rule.state_space.n_states == 3 * 4 and model.problems == []
    assert control_values(model.config)["features"] == "last_actions:1, streak"
    kept = DashboardModel(base_scenario=small_scenario(), features="last_actions:x")
    assert kept.rule.state_space.n_states == 81 and "'x' is not a number; keeping" in kept.problems[0]


def test_the_runs_page_finds_runs_in_a_folder_of_runs_and_refuses_a_folder_without_any(tmp_path):
    from synapse_sim.dashboard.views import runs as rv
    from synapse_sim.runner import RunError, run

    base = small_scenario(iterations=20)
    for name, seed in (("a/seed0", 0), ("a/seed1", 1), ("b/seed0", 0)):
        run(
            base.with_overrides({"run.seed": seed, "policy.epsilon": 0.1 if name[0] == "a" else 0.3}),
            tmp_path / name,
            progress=False,
        )
    found = rv.find_runs([tmp_path])
    assert [str(p.relative_to(tmp_path)) for p in found] == ["a/seed0", "a/seed1", "b/seed0"]
    runs = rv.read_runs(found)
    assert [r.label for r in runs] == ["a/seed0", "a/seed1", "b/seed0"]
    assert rv.differing_keys(runs) == ["policy.epsilon", "run.seed"]
    table = rv.runs_table_html(runs)
    assert table.count("<tr data-run=") == 3 and "completed" in table
    rows = rv.runs_csv(runs).splitlines()
    assert len(rows) == 1 + 3 * 20 and rows[1].startswith("a/seed0,1,")
    assert server.runs_page_folders([str(tmp_path)]) == [str(tmp_path.resolve())]
    assert server.runs_page_folders([str(tmp_path / "a" / "seed0")]) is None  # one run: the agent view
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no results folder there"):
        server.runs_page_folders([str(tmp_path / "a"), str(tmp_path / "empty")])


def test_the_curves_and_the_raster_download_their_values_and_pictures():
    import csv as csv_module

    model = stepped(SynapseModel(small_scenario(), raster_length=30), 5)
    data = views.curves_data(model)
    rows = list(csv_module.DictReader(io.StringIO(views.curves_csv(data))))
    assert [int(r["step"]) for r in rows] == data["step"].tolist() == list(range(6))
    assert [float(r["loss"]) for r in rows] == data["loss"].tolist()
    assert [float(r["keep"]) for r in rows] == data["keep"].tolist()
    assert views.curves_png(data, 3)[:8] == b"\x89PNG\r\n\x1a\n"
    _, rc = solara.render(CurvesView(model), handle_error=False)
    labels = [b.widget.children[-1] if b.widget.children else "" for b in rc.find(v.Btn)]
    assert any("CSV" in str(label) for label in labels) and any("PNG" in str(label) for label in labels)
    _, rc = solara.render(RasterView(model), handle_error=False)
    assert any("PNG" in str(b.widget.children) for b in rc.find(v.Btn))
