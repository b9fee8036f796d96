"""The dashboard's views without a browser: their data reflect the model, their components render.

Each view is checked on the decision-boundary network and on a classification network with
784 inputs (drawn as 28 x 28 weight images instead of edge by edge). Every view under every
registered rule: ``test_dashboard_rules.py``; the page and its controls: ``test_dashboard_page.py``.
"""

from __future__ import annotations

import html
import json

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara
from conftest import decode, html_of, random_classification_task, small_scenario, stepped
from mesa.visualization.utils import force_update

from synapse_sim.dashboard import views
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
from synapse_sim.dashboard.model import DashboardModel
from synapse_sim.model import SynapseModel
from synapse_sim.rules.synaptic_rl.policy import Policy
from synapse_sim.rules.synaptic_rl.state_space import StateSpace
from synapse_sim.tasks import ClassificationTask


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


def image_of(rc, css_class: str) -> ipywidgets.Image:
    (image,) = [w for w in rc.find(ipywidgets.Image).widgets if css_class in w._dom_classes]
    return image


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
