"""The dashboard on control tasks: the last episode replayed frame by frame, the return curve, spikes, terms.

One model step is one episode. The frames come from replaying the recorded actions in a rendering
copy of the environment reset with the episode's seed: the replay must pass through the very
observations the network saw. Checked under REINFORCE, NRL and synaptic RL on CartPole-v1 and the
spiking rule on CartPole and our gridworld; a decision-boundary model keeps its views as they were.
"""

from __future__ import annotations

import html

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from conftest import html_of, render_all, render_page, small_scenario

from synapse_sim.dashboard import views
from synapse_sim.dashboard.components import CurvesView, TaskView
from synapse_sim.dashboard.episode import EpisodeReplay, synapse_contributions
from synapse_sim.dashboard.model import DashboardModel
from synapse_sim.dashboard.params import initial_kwargs, model_params
from synapse_sim.dashboard.rule_controls import dashboard_rules, learned_choices
from synapse_sim.model import SynapseModel
from synapse_sim.randomness import STREAM_EPISODE, generator
from synapse_sim.scenario import Scenario

STEPS = 3


def cartpole(method: str, **overrides) -> Scenario:
    keys = {
        "task.name": "control",
        "control.env": "CartPole-v1",
        "network.layers": [4, 8, 2],
        "network.dtype": "float64",
        "run.method": method,
        "run.validate_every": 0,
        "run.seed": 3,
    }
    return Scenario().with_overrides({**keys, **overrides})


def control_model(base: Scenario, steps: int = STEPS, **controls) -> DashboardModel:
    model = DashboardModel(**{**initial_kwargs(model_params(base)), **controls})
    for _ in range(steps):
        model.step()
    return model


@pytest.fixture(scope="module", params=["reinforce", "nrl", "synaptic_rl", "spiking_cartpole", "spiking_gridworld"])
def model(request):
    if request.param == "spiking_cartpole":
        return control_model(Scenario.load("scenarios/cartpole_spiking.toml"), hidden="8")
    if request.param == "spiking_gridworld":
        return control_model(Scenario.load("scenarios/gridworld_spiking.toml"), hidden="6", steps=2)
    return control_model(cartpole(request.param))


def images(rc, css_class: str) -> list[ipywidgets.Image]:
    return [w for w in rc.find(ipywidgets.Image).widgets if css_class in w._dom_classes]


# --- the rules a control dashboard runs --------------------------------------------------------------------------
def test_a_control_scenario_offers_the_episode_rules_and_keeps_its_own():
    assert dashboard_rules("control") == ["nrl", "reinforce", "rmhl", "spiking", "synaptic_rl"]
    params = model_params(Scenario.load("scenarios/cartpole_spiking.toml"))
    assert (
        params["rule"]["values"] == dashboard_rules("control") + learned_choices("control")
        and params["rule"]["value"] == "spiking"
    )
    assert "spiking_alpha" in params and "nrl_eta" in params and "spsa_a" not in params
    # the decision-boundary dashboard lists what it listed before
    plain = model_params()
    assert plain["rule"]["values"] == dashboard_rules() + learned_choices() and not any(
        k.startswith(("nrl_", "spiking_")) for k in plain
    )
    # a softmax rule on the spiking scenario reads one output per action; a rule of another task is refused
    switched = DashboardModel(**{**initial_kwargs(params), "rule": "reinforce", "hidden": "8"})
    assert switched.config["network"]["layers"] == [4, 8, 2] and switched.config["control"]["actors"] == 1
    assert "control.actors = 10" in switched.problems[0]
    refused = DashboardModel(**{**initial_kwargs(params), "rule": "spsa", "hidden": "8"})
    assert refused.rule.name == "spiking" and "rule 'spsa' is not one of" in refused.problems[0]
    # the task select leaves the control task: its [control] keys go back to their defaults
    away = DashboardModel(**{**initial_kwargs(params), "task_name": "decision_boundary", "hidden": "8"})
    assert away.config["task"]["name"] == "decision_boundary" and away.config["network"]["layers"] == [2, 8, 1]
    assert away.rule.name == "synaptic_rl" and away.config["control"]["actors"] == 1
    away.step()
    assert away.episode is None and "task: decision boundary" in html_of(render_all(away, 3))


# --- the episode, replayed --------------------------------------------------------------------------------------
def test_the_replay_passes_through_the_recorded_episode(model):
    episode = model.episode
    record = episode.record
    assert episode.step == model.steps == STEPS or episode.step == model.steps == 2
    assert record.episode_return == model.last_result.records["return"]
    # the seed the episode's own generator drew first (tasks/episodes.run_episode)
    first_draw = int(generator(model.config["run"]["seed"], STREAM_EPISODE, model.steps).integers(2**31))
    assert episode.replay.seed == episode.record.reset_seed == first_draw
    observations = episode.replay.observations()
    assert len(observations) == record.length + 1
    seen = np.stack([model.task.code(o) for o in observations]).astype(record.observations.dtype)
    np.testing.assert_array_equal(seen, record.observations)  # every observation, the last one too
    frames = episode.replay.frames()
    assert len(frames) == record.length + 1
    assert all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    assert not np.array_equal(frames[0], frames[-1])  # the cart moved / the agent walked
    np.testing.assert_array_equal(episode.replay.frame(record.length), frames[-1])
    np.testing.assert_array_equal(episode.replay.frame(1), frames[1])  # back to an earlier frame


def test_another_seed_replays_another_episode():
    model = control_model(cartpole("reinforce"), steps=1)
    episode = model.episode
    other = EpisodeReplay("CartPole-v1", 0, episode.replay.seed + 1, episode.record.actions)
    first = model.task.code(other.observations()[0])
    assert not np.array_equal(first, episode.record.observations[0])


def test_an_environment_that_cannot_draw_says_so_in_the_panel():
    scenario = cartpole("reinforce", **{"control.env": "synapse_sim/Reaching1D-v0", "network.layers": [32, 4, 3]})
    model = control_model(scenario, steps=1)
    image, why = views.frame_png(model.episode, 0)
    assert image is None and "synapse_sim/Reaching1D-v0 cannot draw frames" in why
    _, rc = solara.render(TaskView(model), handle_error=False)
    text = html_of(rc)
    assert "synsim-no-frames" in text and "cannot draw frames" in text and not images(rc, "synsim-frame")
    assert f'data-length="{model.episode.record.length}"' in text


# --- the views -------------------------------------------------------------------------------------------------
def test_every_view_renders_on_a_control_task(model):
    rc = render_all(model, 3)
    text = html_of(rc)
    episode = model.episode
    assert f'data-step="{model.steps}"' in text and f'data-rule="{model.rule.name}"' in text
    assert f'class="synsim-episode" data-step="{episode.step}" data-length="{episode.record.length}"' in text
    assert f'data-time="{episode.record.length}"' in text  # a new episode shows its last frame
    (frame,) = images(rc, "synsim-frame")
    assert frame.value == views.frame_png(episode, episode.record.length)[0]
    assert "synsim-returns" in text and 'data-series="return"' in text
    assert ("spikes of the episode" in text) == (model.rule.name == "spiking")
    assert bool(images(rc, "synsim-spikes")) == (model.rule.name == "spiking")


def test_the_time_step_slider_moves_the_frame():
    model = control_model(cartpole("reinforce"), steps=2)
    _, rc = solara.render(TaskView(model), handle_error=False)
    (slider,) = [w for w in rc.find(v.Slider).widgets if w.label == "time step"]
    assert slider.v_model == model.episode.record.length
    slider.v_model = 2
    (frame,) = images(rc, "synsim-frame")
    assert 'data-time="2"' in html_of(rc) and frame.value == views.frame_png(model.episode, 2)[0]
    assert "after action" in html_of(rc)
    model.step()  # a new episode: its last frame again
    _, rc = solara.render(TaskView(model), handle_error=False)
    assert f'data-time="{model.episode.record.length}"' in html_of(rc)


def test_no_episode_before_the_first_step():
    model = control_model(cartpole("reinforce"), steps=0)
    _, rc = solara.render(TaskView(model), handle_error=False)
    assert "no episode yet" in html_of(rc) and not images(rc, "synsim-frame")
    render_all(model, 3)  # every view renders at step 0


def test_the_return_curve_is_each_steps_return():
    model = control_model(cartpole("reinforce"), steps=0)
    returns = []
    for _ in range(5):
        model.step()
        returns.append(model.last_result.records["return"])
    data = views.curves_data(model)
    np.testing.assert_array_equal(data["return"][1:], returns)  # step 0: the network before any episode
    assert np.isnan(data["return"][0])
    np.testing.assert_allclose(data["return_mean"][1:], np.cumsum(returns) / np.arange(1, 6))
    _, rc = solara.render(CurvesView(model), handle_error=False)
    text = html_of(rc)
    assert f"episode return {views.fmt(returns[-1])}" in text and "solved (return reached the threshold)" in text


def test_a_decision_boundary_model_keeps_its_curves_and_views():
    model = DashboardModel(base_scenario=small_scenario(), raster_length=20)
    model.step()
    data = views.curves_data(model)
    assert np.isnan(data["return"]).all()
    svg = views.curves_svg(data)
    assert svg.count("<polyline") == 6 and "synsim-returns" not in svg and "loss" in svg
    assert model.episode is None and views.synapse_episode_html(model, 0) == ""
    plain = SynapseModel(small_scenario())  # a model without the return reporter
    assert np.isnan(views.curves_data(plain)["return"]).all()


def test_the_spike_raster_shows_the_hidden_spikes_and_the_output_populations_that_voted():
    from synapse_sim.tasks.spiking import vote

    scenario = Scenario.load("scenarios/cartpole_spiking.toml").with_overrides({"spiking.vote_epsilon": 0.0})
    model = control_model(scenario, hidden="8", steps=2)
    data = views.spike_data(model.episode)
    length = model.episode.record.length
    hidden, output = data.spikes
    assert data.layer_names == ["hidden 1", "output"]
    assert hidden.shape == (8, length) and output.shape == (20, length) and set(np.unique(output)) <= {-1, 1}
    np.testing.assert_array_equal(hidden, model.episode.trace.inputs[1][:8])
    assert [vote(output[:, t], 2) for t in range(length)] == model.episode.record.actions.tolist()  # no exploring
    rgb = views.spike_rgb(data)
    assert rgb.shape == (3 + 1 + 8 + 1 + 20, length, 3)
    np.testing.assert_array_equal(
        rgb[4:12][hidden == 1], np.tile(views.environment.SPIKE_RGB[1], ((hidden == 1).sum(), 1))
    )
    np.testing.assert_array_equal(
        rgb[13:][output == -1], np.tile(views.environment.SPIKE_RGB[-1], ((output == -1).sum(), 1))
    )
    assert "hidden 1 8, output 20" in views.spike_html(data)


def test_a_synapses_terms_per_time_step_sum_to_its_eligibility(model):
    if model.rule.name == "synaptic_rl":
        assert synapse_contributions(model, 0) is None or views.synapse_episode_html(model, 0) == ""
        return
    for sid in (0, 5, model.topology.n_synapses - 1):
        terms = synapse_contributions(model, sid)
        assert terms.size == model.episode.record.length
        np.testing.assert_allclose(terms.sum(), model.synapses[sid].memory["eligibility"], rtol=1e-9, atol=1e-12)
    info = views.synapse_info(model, 5)
    text = views.synapse_html(info) + views.synapse_episode_html(model, 5)
    assert "memory: eligibility" in text and "the episode&#x27;s sum over time steps" in text
    assert f'data-steps="{model.episode.record.length}"' in text


def test_a_fast_forward_keeps_its_last_episode_and_returns():
    model = control_model(cartpole("reinforce"), steps=1)
    assert model.fast_forward(4) == 4
    episode = model.episode
    assert episode.step == model.steps == 5 and episode.broadcast is None
    observations = np.stack([model.task.code(o) for o in episode.replay.observations()])
    np.testing.assert_array_equal(observations, episode.record.observations)
    data = views.curves_data(model)
    assert np.isfinite(data["return"][1:]).all() and data["return"][-1] == episode.record.episode_return
    assert "take an agent step" in views.synapse_episode_html(model, 0)
    model.step()
    assert model.episode.step == 6 and views.synapse_episode_html(model, 0).startswith('<div class="synsim-episode-')


def test_the_page_steps_a_control_scenario():
    rc = render_page(cartpole("nrl"))
    assert "no episode yet" in html_of(rc)
    (rule,) = [w for w in rc.find(v.Select).widgets if w.label.startswith("learning rule")]
    assert rule.items == dashboard_rules("control") + learned_choices("control") and rule.v_model == "nrl"
    rc.find(v.Btn, children=["Step"]).widget.click()
    text = html_of(rc)
    assert 'data-step="1"' in text and "synsim-episode" in text and images(rc, "synsim-frame")
    assert "synsim-problem" not in text and html.escape("nrl") in text
