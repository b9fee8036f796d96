"""The dashboard's views without a browser: their data reflect the model, their components render.

Each view is checked on the decision-boundary network and on a classification network with
784 inputs (drawn as 28 x 28 weight images instead of edge by edge), and every view under
every registered learning rule (synaptic RL, SPSA, node perturbation).
"""

from __future__ import annotations

import html
import io
import json
import os
import stat
import tarfile

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from conftest import random_classification_task, render_all, small_scenario
from mesa.experimental.scenarios import Scenario as MesaScenario
from mesa.visualization.utils import force_update
from PIL import Image

from synapse_sim.dashboard import assets, rule_views, server, views
from synapse_sim.dashboard.components import (
    CurvesView,
    NetworkView,
    NetworkWidget,
    PolicyView,
    RasterView,
    SynapseInspector,
    TaskView,
    dashboard_components,
)
from synapse_sim.dashboard.model import DashboardModel, initial_kwargs, model_params, parse_hidden, resolve
from synapse_sim.dashboard.rule_controls import dashboard_rules, learned_choices
from synapse_sim.model import SynapseModel
from synapse_sim.rules import RULES
from synapse_sim.rules.synaptic_rl.policy import Policy
from synapse_sim.rules.synaptic_rl.state_space import StateSpace
from synapse_sim.tasks import ClassificationTask

STEPS = 6


def stepped(model, n=STEPS):
    for _ in range(n):
        model.step()
    return model


@pytest.fixture(scope="module")
def boundary_model():
    return stepped(SynapseModel(small_scenario(), raster_length=50))


@pytest.fixture(scope="module")
def letters_model():
    """784 inputs, 4 hidden, 10 outputs: 3,190 synapses, too many to draw edge by edge."""
    task = random_classification_task(n=120, batch_size=60)
    return stepped(DashboardModel(task=task, hidden="4", raster_length=20), 3)


@pytest.fixture(params=["boundary", "letters"])
def any_model(request):
    return request.getfixturevalue(f"{request.param}_model")


def html_of(rc) -> str:
    return "".join(w.unsafe_innerHTML or "" for w in rc.find(solara.widgets.HTML).widgets)


def image_of(rc, css_class: str) -> ipywidgets.Image:
    (image,) = [w for w in rc.find(ipywidgets.Image).widgets if css_class in w._dom_classes]
    return image


def decode(png_bytes: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png_bytes)).convert("RGB"))


# --- 1. network ---------------------------------------------------------------------------------------------------
def test_network_geometry_and_state_follow_the_graph(boundary_model):
    model = boundary_model
    geometry = views.network_geometry(model.graph)
    positions = views.network_layout(model.graph)
    assert geometry.edges.shape == (model.topology.n_synapses, 4)
    for pre, post, attrs in model.graph.edges(data=True):
        assert tuple(geometry.edges[attrs["sid"]]) == (*positions[pre], *positions[post])
    assert len(geometry.nodes) == model.graph.number_of_nodes()
    xs_by_layer = {layer: {positions[n][0] for n in model.graph if n[0] == layer} for layer in range(3)}
    assert all(len(xs) == 1 for xs in xs_by_layer.values())  # one column per layer
    assert min(xs_by_layer[0]) < min(xs_by_layer[1]) < min(xs_by_layer[2])

    state = views.network_state(model)
    np.testing.assert_array_equal(state.actions, model.action_log[-1])
    np.testing.assert_array_equal(state.weights, [a.weight for a in model.synapses])
    order = np.argsort(np.abs(state.weights), kind="stable")
    assert np.all(np.diff(state.widths[order]) >= 0)  # wider for larger |weight|
    assert views.digits(state.actions) == "".join(str(int(a)) for a in model.action_log[-1])


def test_network_view_draws_edges_and_a_click_selects_a_synapse(boundary_model):
    selected = solara.Reactive(2)
    _, rc = solara.render(NetworkView(boundary_model, selected), handle_error=False)
    widget = rc.find(NetworkWidget).widget
    assert widget.actions == views.digits(boundary_model.action_log[-1])
    assert len(widget.widths.split(",")) == boundary_model.topology.n_synapses
    assert len(json.loads(widget.geometry)["edges"]) == boundary_model.topology.n_synapses
    assert widget.selected == 2
    widget.selected = 5  # what a click on edge 5 does in the browser
    assert selected.value == 5
    assert f'data-step="{boundary_model.steps}"' in html_of(rc)


def test_large_network_is_drawn_as_28x28_weight_images(letters_model):
    model = letters_model
    assert views.is_large(model.topology)
    data = views.weight_images(model)
    first = model.weight_matrices()[0]
    actions = model.topology.matrices(np.asarray(model.action_log[-1]))
    assert data.shape == (28, 28) and data.weights.shape == (4, 28, 28)
    for j in range(4):
        np.testing.assert_array_equal(data.weights[j], first[:-1, j].reshape(28, 28))
        np.testing.assert_array_equal(data.actions[j], actions[0][:-1, j].reshape(28, 28))
    assert len(data.later) == 1 and data.later[0][0].shape == (5, 10)
    np.testing.assert_array_equal(data.later[0][1], actions[1])
    picture = decode(views.weight_images_png(data))
    assert picture.shape[0] > 28 and picture.shape[1] > 2 * 28

    _, rc = solara.render(NetworkView(model, solara.Reactive(0)), handle_error=False)
    assert image_of(rc, "synsim-aggregate").value == views.weight_images_png(data)
    rc.find(NetworkWidget).assert_empty()
    assert "28x28" in html_of(rc)


# --- 2. raster ----------------------------------------------------------------------------------------------------
def test_raster_equals_the_action_log(any_model):
    """Every synapse has its row (or, above views.MAX_SYNAPSE_ROWS, its post-neuron's row carries
    its share), each cell the colour of its action."""
    model = any_model
    data = views.raster_data(model)
    log = np.stack(list(model.action_log), axis=1)
    n = model.topology.n_synapses
    np.testing.assert_array_equal(data.actions, log)
    np.testing.assert_array_equal(data.sids, np.arange(n))
    np.testing.assert_array_equal(data.rewards, list(model.reward_log))
    np.testing.assert_array_equal(data.steps, np.arange(model.steps - len(model.action_log) + 1, model.steps + 1))
    rgb = decode(views.raster_png(data))
    top = rgb.shape[0] - data.n_rows
    columns = slice(data.length - data.steps.size, data.length)
    if n <= views.MAX_SYNAPSE_ROWS:
        assert not data.aggregate and data.n_rows == n and data.labels[7] == "sid 7"
        np.testing.assert_array_equal(rgb[top:, columns], views.ACTION_RGB[data.actions])
    else:  # the letters network: 3,190 synapses in 4 + 10 post-neuron rows
        assert data.aggregate and data.n_rows == 14 and data.labels[0] == "layer 1 neuron 0 (785 synapses)"
        post = np.array([sum(model.topology.layer_sizes[1 : layer + 1]) for layer in model.topology.layer])
        post = post + model.topology.col
        for row in (0, 5, 13):
            mine = data.actions[post == row]
            shares = np.stack([(mine == a).mean(axis=0) for a in range(3)], axis=1)
            np.testing.assert_array_equal(rgb[top + row, columns], np.round(shares @ views.ACTION_RGB.astype(float)))
    np.testing.assert_array_equal(
        rgb[top:, : columns.start], np.broadcast_to(views.NO_DATA_RGB, rgb[top:, : columns.start].shape)
    )
    expected_reward = np.array([views.hex_rgb(views.REWARD_HEX[int(r)]) for r in data.rewards])
    np.testing.assert_array_equal(rgb[0, columns], expected_reward)


def test_the_raster_bins_a_long_history_by_action_fractions_and_drops_no_step():
    model = stepped(SynapseModel(small_scenario(), raster_length=1000), 9)
    data = views.raster_data(model)
    assert data.bin_size == 3 and data.steps.size == 9
    rgb = decode(views.raster_png(data))
    top = rgb.shape[0] - data.n_rows
    assert rgb.shape[1] == 334  # ceil(1000 / 3) columns
    for k, column in enumerate(range(rgb.shape[1] - 3, rgb.shape[1])):  # the 9 steps in 3 columns of 3
        steps = data.actions[:, 3 * k : 3 * k + 3]
        shares = np.stack([(steps == a).mean(axis=1) for a in range(3)], axis=1)
        np.testing.assert_array_equal(rgb[top:, column], np.round(shares @ views.ACTION_RGB.astype(float)))
    assert (rgb[top:, :-3] == views.NO_DATA_RGB).all()


def test_every_view_shares_one_colour_per_action_and_no_data_differs_from_all_three():
    assert len({*views.ACTION_HEX, views.NO_DATA_HEX}) == 4
    assert NetworkWidget().colors == list(views.ACTION_HEX)
    rgb = decode(views.raster_png(views.raster_data(SynapseModel(small_scenario(), raster_length=10))))
    assert (rgb[-1] == views.NO_DATA_RGB).all()  # before the first step: no data anywhere


def raster_widget(rc):
    from synapse_sim.dashboard.raster_widget import RasterWidget

    return rc.find(RasterWidget).widget


def test_raster_view_shows_the_raster_follows_steps_and_opens_a_clicked_synapse():
    model = SynapseModel(small_scenario(), raster_length=30)
    selected = solara.reactive(0)
    _, rc = solara.render(RasterView(model, None, selected), handle_error=False)
    widget = raster_widget(rc)
    data = views.raster_data(model)
    assert widget.src == views.data_uri(views.raster_png(data))
    assert widget.rows == model.topology.n_synapses and widget.height >= widget.rows
    stepped(model, 2)
    force_update()
    assert widget.src != views.data_uri(views.raster_png(data))
    assert widget.src == views.data_uri(views.raster_png(views.raster_data(model))) and widget.newest == 2
    widget.picked = 17  # the browser's click on row 17
    assert selected.value == 17


# --- 3. curves ----------------------------------------------------------------------------------------------------
def test_curves_come_from_the_datacollector(any_model):
    model = any_model
    data = views.curves_data(model)
    frame = model.datacollector.get_model_vars_dataframe()
    for name in views.CURVES:
        np.testing.assert_allclose(data[name], frame[name].to_numpy(dtype=float))
    assert data["step"][-1] == model.steps and data["step"].size == model.steps + 1
    np.testing.assert_allclose(data["reward_mean"][-1], frame["reward"].to_numpy()[-25:].mean())
    svg = views.curves_svg(data)
    assert svg.count("<polyline") == 6
    assert f"loss {views.fmt(data['loss'][-1])}" in svg


def test_long_curves_are_thinned_by_averaging_and_have_ticks_titles_and_smoothing():
    from synapse_sim.dashboard.views.curves import bin_edges, binned, nice_ticks

    n = 1000
    steps = np.arange(1, n + 1)
    loss = np.where(steps % 2 == 0, 1.0, 0.0)  # every other step: dropping steps would show 0 or 1
    data = {name: np.full(n, 0.5) for name in views.CURVES} | {"step": steps, "loss": loss}
    data |= {"reward_mean": np.zeros(n), "return": np.full(n, np.nan), "return_mean": np.full(n, np.nan)}
    edges = bin_edges(n, 400)
    assert edges[0] == 0 and edges[-1] == n and len(edges) == 401  # every step in a bin
    np.testing.assert_allclose(binned(loss, edges)[1:-1], 0.5, atol=0.17)  # means of 2-3 steps
    svg = views.curves_svg(data)
    assert 'data-points="400"' in svg and svg.count('class="synsim-xlabel"') == 4
    for title in ("loss", "accuracy", "fraction"):
        assert 'class="synsim-ylabel"' in svg and f">{title}</text>" in svg
    assert svg.count('class="synsim-ytick"') >= 8 and svg.count('class="synsim-xtick"') >= 8
    smooth = views.curves_svg(data, smoothing=10)
    line = smooth.split('data-series="loss" points="')[1].split('"')[0]
    ys = [float(p.split(",")[1]) for p in line.split()]
    assert max(ys[5:]) - min(ys[5:]) < 1.0  # a 10-step running mean of 0, 1, 0, 1 ... is flat
    np.testing.assert_allclose(nice_ticks(0.0, 1.0), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(nice_ticks(1, 1000, 4), [200, 400, 600, 800, 1000])


def test_curves_view_changes_after_a_step():
    model = SynapseModel(small_scenario())
    _, rc = solara.render(CurvesView(model), handle_error=False)
    before = html_of(rc)
    stepped(model, 3)
    force_update()
    assert html_of(rc) != before and views.curves_svg(views.curves_data(model)) in html_of(rc)


# --- 4. policy ----------------------------------------------------------------------------------------------------
def test_policy_heatmap_marks_the_greedy_actions(any_model):
    model = any_model
    data = views.policy_data(model)
    np.testing.assert_array_equal(data.q, model.rule.policy.q)
    np.testing.assert_array_equal(data.greedy, model.rule.policy.greedy)
    assert data.occupancy.sum() == model.topology.n_synapses
    assert data.labels == model.rule.state_space.labels() and "dec, keep | -, +" in data.labels
    h, w = views.Q_CELL
    scale = views.policy_scale(data.q)
    blocks = views.policy_blocks(len(data.labels))
    assert blocks == [(0, 27), (27, 54), (54, 81)]
    for start, stop in blocks:
        rgb = decode(views.policy_png(data, start, stop))
        assert rgb.shape[0] == (stop - start) * h
        for row, state in enumerate(range(start, stop)):
            for action in range(3):
                dot = (rgb[row * h + h // 2 - 1, action * w + w // 2 - 1] == 0).all()
                assert dot == (action == model.rule.policy.greedy[state]), (state, action)
                colour = views.diverging_rgb(np.array([data.q[state, action]]), scale)[0]
                np.testing.assert_array_equal(rgb[row * h + 2, action * w + 3], colour)
        labels = views.policy_labels_html(data.labels, start, stop)
        assert all(html.escape(label) in labels for label in data.labels[start:stop])
    assert "adaptive" in views.policy_legend_html(data)
    _, rc = solara.render(PolicyView(model), handle_error=False)
    images = [w for w in rc.find(ipywidgets.Image).widgets if "synsim-qimg" in w._dom_classes]
    assert [i.value for i in images] == [views.policy_png(data, a, b) for a, b in blocks]
    assert "dec, keep | -, +" in html_of(rc)


def test_policy_view_follows_an_adaptive_table_and_shows_a_static_file(tmp_path):
    model = SynapseModel(small_scenario())
    _, rc = solara.render(PolicyView(model), handle_error=False)

    def pictures():
        return [w.value for w in rc.find(ipywidgets.Image).widgets if "synsim-qimg" in w._dom_classes]

    before = pictures()
    stepped(model, 3)
    force_update()
    assert pictures() != before  # the adaptive table learned
    data = views.policy_data(model)
    assert pictures() == [views.policy_png(data, a, b) for a, b in views.policy_blocks(len(data.labels))]

    space = StateSpace.paper(2)
    q = np.random.default_rng(1).normal(size=(space.n_states, 3))
    Policy(space, q=q).save(tmp_path / "mine")
    static = DashboardModel(hidden="6", policy="static: file", policy_file=str(tmp_path / "mine"))
    assert static.problems == []
    data = views.policy_data(static)
    np.testing.assert_array_equal(data.q, q)
    np.testing.assert_array_equal(data.greedy, np.argmax(q, axis=1))
    assert "static (frozen)" in views.policy_legend_html(data)


# --- 5. task ------------------------------------------------------------------------------------------------------
def test_boundary_view_shows_target_and_learned_labels(boundary_model):
    model = boundary_model
    data = views.boundary_data(model, resolution=60)
    axis, learned, target = model.task.predict_grid(model.weight_matrices(), 60)
    np.testing.assert_array_equal(data.target, target)
    np.testing.assert_array_equal(data.axis, axis)
    assert np.mean(data.learned == learned) > 0.99  # the picture is drawn in float32
    picture = decode(views.boundary_png(data))
    assert picture.shape[0] == 60 and picture.shape[1] > 120
    _, rc = solara.render(TaskView(model), handle_error=False)
    assert image_of(rc, "synsim-boundary").value
    assert "target boundary" in html_of(rc)


def test_letters_view_shows_validation_images_with_predicted_letters(letters_model):
    model = letters_model
    task: ClassificationTask = model.task
    data = views.letters_data(model, n=8)
    index = views.sample_indices(task.y_val.size, 8)
    np.testing.assert_array_equal(data.true, task.y_val[index])
    np.testing.assert_array_equal(data.predicted, task.predict(model.weight_matrices(), task.x_val[index]))
    assert data.images.shape == (8, 28, 28)
    assert data.validation_accuracy == pytest.approx(task.validate(model.weight_matrices())["accuracy"])
    text = views.letters_html(data)
    assert text.count("<figure") == 8
    for predicted in data.predicted:
        assert f">{task.class_names[predicted]}<span" in text
    _, rc = solara.render(TaskView(model), handle_error=False)
    assert "validation accuracy" in html_of(rc)


# --- 6. one synapse -----------------------------------------------------------------------------------------------
def test_synapse_info_is_that_agents_memory(any_model):
    model = any_model
    for sid in (0, model.topology.n_synapses - 1):  # the last synapse is a bias synapse
        agent = model.synapses[sid]
        info = views.synapse_info(model, sid)
        assert (
            info.weight == float(agent.weight)
            and info.memory["state"] == agent.memory["state"]
            and info.memory["weight"] == float(agent.weight)
        )
        assert info.is_bias == agent.is_bias and info.pre == agent.pre and info.post == agent.post
        np.testing.assert_array_equal(info.history, [log[sid] for log in model.action_log])
        assert info.weights[-1] == float(agent.weight)
        if isinstance(model, DashboardModel):  # the weights recorded after each step
            np.testing.assert_array_equal(info.weights, [float(w[sid]) for _, w in model.weight_log])
            np.testing.assert_array_equal(
                info.steps, np.arange(model.steps - len(model.action_log) + 1, model.steps + 1)
            )
        alpha = model.rule.weight_steps.alpha_s * (model.rule.weight_steps.bias_step_scale if agent.is_bias else 1)
        # each step moved the weight by (action - 1) x alpha_s, up to the rounding of the weights' dtype
        atol = 1e-12 if model.simulation.dtype == np.float64 else 4 * np.finfo(np.float32).eps
        np.testing.assert_allclose(np.diff(info.weights), (info.history[1:].astype(float) - 1) * alpha, atol=atol)
        assert info.greedy == model.rule.policy.greedy[agent.memory["state"]]
        text = views.synapse_html(info)
        assert f'data-sid="{sid}"' in text and f'data-weight="{info.weight!r}"' in text
        assert model.rule.state_space.describe(int(agent.memory["state"])) in text


def test_inspector_shows_the_selected_synapse_and_follows_the_selection(boundary_model):
    model = boundary_model
    selected = solara.Reactive(3)
    _, rc = solara.render(SynapseInspector(model, selected), handle_error=False)
    assert f'data-weight="{float(model.synapses[3].weight)!r}"' in html_of(rc)
    selected.set(7)
    assert 'data-sid="7"' in html_of(rc)
    assert f'data-weight="{float(model.synapses[7].weight)!r}"' in html_of(rc)
    rc.find(v.Slider).widget.v_model = 9  # the slider selects too
    assert selected.value == 9 and 'data-sid="9"' in html_of(rc)


# --- all views, both tasks ----------------------------------------------------------------------------------------
def test_every_view_renders_for_both_tasks(any_model):
    selected = solara.Reactive(1)

    @solara.component
    def All():
        with solara.Column():
            for component, page in dashboard_components(selected):
                assert page == 0
                component(any_model)

    _, rc = solara.render(All(), handle_error=False)
    text = html_of(rc)
    for marker in ("synsim-status", "action raster", "synsim-curves", "synsim-qlabels", "task:", 'data-sid="1"'):
        assert marker in text


# --- every view under every learning rule -------------------------------------------------------------------------
RULE_MEMORY_TEXT = {
    "synaptic_rl": "policy in this state",
    "spsa": "memory: perturbation",
    "node_perturbation": "memory: eligibility",
    "qagrel": "memory: tag",
}


@pytest.fixture(scope="module", params=dashboard_rules())
def rule_model(request):
    task = "digits" if RULES[request.param].needs_classes else "decision_boundary"  # Q-AGREL: outputs are classes
    model = DashboardModel(task_name=task, hidden="8", rule=request.param, raster_length=30)
    return stepped(model, 5)


def test_every_view_renders_under_every_rule(rule_model):
    model = rule_model
    name = model.rule.name
    assert model.config["run"]["method"] == name and model.problems == []
    rc = render_all(model)
    text = html_of(rc)
    # the status line names the rule, its broadcast and the loss evaluations
    assert f'data-rule="{name}"' in text and f"rule <b>{name}</b>: {html.escape(model.rule.broadcast_label)}" in text
    assert f"{model.last_result.evaluations} loss evaluations" in text
    assert f'<div class="synsim-synapse" data-sid="5" data-rule="{name}">' in text
    assert RULE_MEMORY_TEXT.get(name, "memory") in text
    q_images = [w for w in rc.find(ipywidgets.Image).widgets if "synsim-qimg" in w._dom_classes]
    if name == "synaptic_rl":
        assert len(q_images) == 3 and "dec, keep | -, +" in text and "has no policy table" not in text
        assert "action raster" in text and rule_views.SIGN_LEGEND not in text
        assert "reward +1" in text or "reward -1" in text
    else:
        assert not q_images and f"{name} has no policy table" in text
        assert html.escape(model.rule.summary) in text
        for key, value in model.rule.params().items():
            assert f"<tr><th>{key}</th><td>{html.escape(rule_views.number(value, 6))}</td></tr>" in text
        assert "weight change raster" in text and rule_views.SIGN_LEGEND in text
        assert "weight change sign, last 5 steps (red down, grey none, blue up)" in text
        assert "weight change signs: down" in text  # the curves' mix


def test_inspector_shows_each_rules_memory_and_an_honest_weight_trace(rule_model):
    model = rule_model
    for sid in (4, model.topology.n_synapses - 1):
        agent = model.synapses[sid]
        info = views.synapse_info(model, sid)
        text = views.synapse_html(info, model.action_log.maxlen)
        recorded = np.array([float(w[sid]) for _, w in model.weight_log])
        np.testing.assert_array_equal(info.weights, recorded)
        assert info.weights[-1] == float(agent.weight) and info.weight_source == "recorded after each step"
        np.testing.assert_array_equal(info.history, [log[sid] for log in model.action_log])
        change = recorded[-1] - recorded[-2]
        if model.rule.name == "spsa":
            delta = int(agent.memory["perturbation"])
            assert delta in (-1, 1) and f"{delta:+d} (this step&#x27;s Delta" in text
            # the step the perturbation drove: w <- w - a g Delta
            assert change == pytest.approx(-model.rule.a * model.last_result.reward * delta, rel=1e-9, abs=1e-15)
        elif model.rule.name == "keep_or_revert":
            delta = int(agent.memory["perturbation"])
            assert (
                delta in (-1, 1) and f"{delta:+d} (this step&#x27;s Delta: the network was evaluated at w + a" in text
            )
            kept = model.last_result.reward == 1  # the step taken exactly when the bit says kept
            assert change == (pytest.approx(model.rule.a * delta, rel=1e-6) if kept else 0.0)
        elif model.rule.name == "momentum_search":
            assert "memory: velocity" in dict(info.memory_rows) and "rho_kept v + the step when kept" in text
            kept = model.last_result.reward < 0  # b < 0: the step taken
            assert (change != 0.0) == kept
        elif model.rule.name == "node_perturbation":
            eligibility = float(agent.memory["eligibility"])
            assert f"{eligibility:.6g} (mean of broadcast x post noise x pre activity, the step it drove" in text
            assert change == pytest.approx(model.rule.eta * eligibility, rel=1e-9, abs=1e-15)
        elif model.rule.name == "qagrel":
            tag = float(agent.memory["tag"])
            assert dict(info.memory_rows)["memory: tag"].startswith(f"{rule_views.number(tag, 6)} (mean over the step")
            # the step the tag drove: w <- w + alpha * mean_n delta_n * tag_n (in the weights' float32)
            assert change == pytest.approx(model.rule.alpha * tag, rel=1e-5, abs=1e-7)
        elif model.rule.name == "error_backprop":
            assert info.memory_rows == []  # it keeps nothing: the error arrives through the forward weights
        else:
            assert info.q_row is not None and model.rule.state_space.describe(int(agent.memory["state"])) in text
        if not model.rule.discrete_actions:
            # raster values: the sign of each weight change + 1, for every recorded step
            trace = np.array([float(w[sid]) for _, w in model.weight_log])
            np.testing.assert_array_equal(info.history[1:], np.sign(np.diff(trace)).astype(np.int8) + 1)
            assert info.q_row is None and info.greedy is None and "last weight change" in text


def test_raster_strip_shows_the_sign_of_a_real_valued_broadcast(rule_model):
    model = rule_model
    data = views.raster_data(model)
    np.testing.assert_array_equal(data.rewards, np.sign(np.asarray(model.reward_log, dtype=float)).astype(np.int8))
    rgb = decode(views.raster_png(data))  # any broadcast value draws (synaptic RL: the reward itself)
    assert rgb.shape[1] == -(-data.length // data.bin_size)


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
    from synapse_sim.app import make_page

    page = make_page(small_scenario())

    @solara.component
    def App():
        with solara.AppLayout():
            page()

    _, rc = solara.render(App(), handle_error=False)
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
    from synapse_sim.app import make_page

    page = make_page(small_scenario())

    @solara.component
    def App():  # solara-server puts every page in an AppLayout, which shows SolaraViz's sidebar
        with solara.AppLayout():
            page()

    _, rc = solara.render(App(), handle_error=False)
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
