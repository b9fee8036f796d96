"""The dashboard under a trial rule (Q-AGREL, error-backprop): the trials, the feedback pathway, the inspector.

Every value the views show is checked against the model's own records of a real agent step
(the TrialRecord, the broadcast, the gated feedback) or recomputed independently (the greedy
actions from a fresh forward pass of the step's minibatch).
"""

from __future__ import annotations

import re

import ipyvuetify as v
import numpy as np
import pytest
import solara
from conftest import html_of, random_classification_task, render_page, small_scenario

from synapse_sim.dashboard import rule_views, views
from synapse_sim.dashboard.components import NetworkView, NetworkWidget, PolicyView
from synapse_sim.dashboard.model import DashboardModel
from synapse_sim.tasks.base import mlp_forward_columns


def stepped(model, n: int):
    """``model`` after ``n`` agent steps, remembering the weights its last step's trials ran with."""
    for _ in range(n):
        model.weights_before_last_step = model.weight_vector()
        model.step()
    return model


@pytest.fixture(scope="module")
def learned():
    """64-8-10 on digits, learned feedback synapses, much exploration (so some trials are not greedy)."""
    model = DashboardModel(
        task_name="digits",
        hidden="8",
        rule="qagrel",
        qagrel_feedback="learned",
        qagrel_exploration=0.3,
        raster_length=5,
    )
    assert model.problems == [] and model.feedback_synapses
    return stepped(model, 2)


@pytest.fixture(scope="module")
def backprop():
    return stepped(DashboardModel(task_name="digits", hidden="8", rule="error_backprop", raster_length=5), 1)


def table_rows(text: str) -> dict[int, list[str]]:
    rows = re.findall(r'<tr data-trial="(\d+)"[^>]*>(.*?)</tr>', text)
    return {int(k): re.findall(r"<td>(.*?)</td>", cells) for k, cells in rows}


def test_trial_table_rows_are_the_steps_trials_and_broadcast(learned):
    model = learned
    trials = model.simulation.last.trace.trials
    data = views.trial_data(model)
    assert data.step == model.steps == 2 and data.n == trials.actions.size == model.task.batch_size
    np.testing.assert_array_equal(data.delta, model.broadcast.delta)  # what the synapses received
    np.testing.assert_array_equal(data.delta, trials.rewards - trials.q_selected)

    # greedy or not, from a forward pass of the minibatch with the weights before the step
    x_t, labels = model.task.batch(model.steps)
    before = model.topology.matrices(model.weights_before_last_step)
    logits, _ = mlp_forward_columns(x_t, before, model.task.hidden_activation)
    greedy = np.argmax(logits, axis=0)
    np.testing.assert_array_equal(labels, trials.labels)
    np.testing.assert_array_equal(data.greedy, greedy)
    np.testing.assert_array_equal(data.not_greedy, trials.actions != greedy)
    explored = int(np.count_nonzero(trials.actions != greedy))
    assert 0 < explored < data.n  # exploration 0.3: some trials explored, most did not

    chosen = 33
    text = views.trials_table_html(data, chosen)
    rows = table_rows(text)
    assert sorted(rows) == [*range(20), chosen]
    for k, cells in rows.items():
        assert cells == [
            str(k),
            str(int(trials.labels[k])),
            str(int(trials.actions[k])),
            "yes" if trials.actions[k] == greedy[k] else "no",
            str(int(trials.rewards[k])),
            views.fmt(trials.q_selected[k]),
            views.fmt(model.broadcast.delta[k]),
        ]
    assert f'<tr data-trial="{chosen}" class="synsim-chosen">' in text
    summary = views.trials_summary_html(data)
    assert f"mean reward {views.fmt(np.mean(trials.rewards))}" in summary
    assert f"mean δ {views.fmt(np.mean(model.broadcast.delta))}" in summary
    assert f"not greedy (explored): {explored} of {data.n}" in summary

    # selections per class: selected, selected rightly, presented
    counts = re.findall(
        r'data-class="(\d+)" data-kind="(\w+)" data-count="(\d+)"', views.class_counts_svg(data.class_counts)
    )
    right = trials.actions[trials.rewards > 0]
    expected = {"selected": trials.actions, "correct": right, "presented": trials.labels}
    for c, kind, count in counts:
        assert int(count) == np.count_nonzero(expected[kind] == int(c))
    assert len(counts) == 3 * 10


def test_error_backprop_trials_have_no_delta_and_every_output_sends_feedback(backprop):
    model = backprop
    data = views.trial_data(model)
    trials = model.simulation.last.trace.trials
    assert data.delta is None and data.every_output and not data.not_greedy.any()
    text = views.trials_table_html(data)
    assert "δ" not in text and table_rows(text)[3][2] == str(int(trials.actions[3]))
    pathway = views.feedback_pathway(model, 3, data)
    assert pathway.neurons[-1].size == 10  # every output's error travels back
    assert "every output sends its error" in views.pathway_html(pathway, data, model.topology.layer_sizes)


@pytest.mark.parametrize("trial", [0, 7, 500])
def test_pathway_is_every_synapse_whose_post_neuron_gets_feedback(learned, trial):
    model = learned
    trace = model.simulation.last.trace
    expected = {a.sid for a in model.synapses if trace.feedback[a.layer][a.post[1], trial] != 0}
    pathway = views.feedback_pathway(model, trial)
    assert set(pathway.sids.tolist()) == expected
    selected = int(trace.trials.actions[trial])
    output_layer = len(model.topology.layer_sizes) - 1
    assert pathway.output == (output_layer, selected)
    # only the selected output sends feedback: the pathway's last layer ends at it alone
    last = [model.synapses[s] for s in pathway.sids if model.synapses[s].post[0] == output_layer]
    assert {a.post for a in last} == {(output_layer, selected)} and len(last) == model.topology.layer_sizes[-2] + 1
    # a hidden neuron is on it when it gets feedback through its feedback synapse to the output and is active
    hidden = trace.inputs[-1][:-1, trial]
    back = np.array([model.synapses[model.topology.sid(1, j, selected)].feedback.weight for j in range(hidden.size)])
    carrying = np.flatnonzero((hidden > 0) & (back != 0))
    np.testing.assert_array_equal(pathway.neurons[0], carrying)
    assert carrying.size and len(expected) == carrying.size * (model.topology.layer_sizes[0] + 1) + len(last)


def test_network_view_draws_the_chosen_trials_pathway(learned):
    model = learned
    trial = solara.Reactive(4)
    _, rc = solara.render(NetworkView(model, solara.Reactive(0), None, trial), handle_error=False)
    widget = rc.find(NetworkWidget).widget
    nodes = list(model.graph.nodes)
    for k in (4, 9):
        trial.set(k)
        pathway = views.feedback_pathway(model, k)
        assert widget.pathway == "".join("1" if s in set(pathway.sids) else "0" for s in range(len(widget.pathway)))
        assert len(widget.pathway) == model.topology.n_synapses
        trace = model.simulation.last.trace
        marked = {nodes[int(i)] for i in widget.marked.split(",")}
        assert marked == {
            (layer + 1, j) for layer, fb in enumerate(trace.feedback) for j in np.flatnonzero(fb[:, k] != 0)
        }
        assert nodes[widget.output] == (2, int(trace.trials.actions[k]))
        assert f'data-trial="{k}" data-synapses="{pathway.sids.size}"' in html_of(rc)


def test_trials_panel_follows_the_trial_control_and_says_when_there_are_none(learned):
    model = learned
    trial = solara.Reactive(0)
    _, rc = solara.render(PolicyView(model, None, trial), handle_error=False)
    text = html_of(rc)
    assert 'class="synsim-trials"' in text and 'data-trial="0" class="synsim-chosen"' in text
    assert "qagrel has no policy table" in text  # the rule's panel below the trials
    rc.find(v.Slider).widget.v_model = 12  # the slider chooses the trial
    assert trial.value == 12 and 'data-trial="12" class="synsim-chosen"' in html_of(rc)

    fresh = DashboardModel(task_name="digits", hidden="4", rule="qagrel", raster_length=5)
    assert views.trial_data(fresh) is None
    _, rc = solara.render(PolicyView(fresh, None, solara.Reactive(0)), handle_error=False)
    assert "no trials recorded yet" in html_of(rc)
    _, rc = solara.render(NetworkView(fresh, solara.Reactive(0), None, solara.Reactive(0)), handle_error=False)
    assert rc.find(NetworkWidget).widget.pathway == "" and "after a step: the feedback pathway" in html_of(rc)
    fresh.fast_forward(2)  # the agents adopt the vectorised step's trials; its broadcast (the deltas) is not kept
    data = views.trial_data(fresh)
    assert fresh.steps == 2 and data.step == 2 and data.delta is None
    agents = stepped(DashboardModel(task_name="digits", hidden="4", rule="qagrel", raster_length=5), 2)
    np.testing.assert_array_equal(data.actions, views.trial_data(agents).actions)
    _, rc = solara.render(PolicyView(fresh, None, solara.Reactive(0)), handle_error=False)
    assert 'data-trial="0" class="synsim-chosen"' in html_of(rc)


def test_large_network_says_the_pathway_is_drawn_for_small_networks_only():
    task = random_classification_task(n=80, batch_size=40)
    model = stepped(DashboardModel(task=task, hidden="4", rule="qagrel", raster_length=5), 1)
    assert views.is_large(model.topology) and views.trial_data(model) is not None
    _, rc = solara.render(NetworkView(model, solara.Reactive(0), None, solara.Reactive(0)), handle_error=False)
    rc.find(NetworkWidget).assert_empty()
    assert "drawn on the network graph of small networks only" in html_of(rc)
    data = views.trial_data(model)
    text = views.pathway_html(views.feedback_pathway(model, 1, data), data, model.topology.layer_sizes)
    carrying = np.count_nonzero(model.simulation.last.trace.feedback[0][:, 1])
    assert f"feedback reaches layer 1: {carrying} of 4 neurons" in text


def test_inspector_shows_the_tag_and_the_feedback_synapses_weight(learned):
    model = learned
    for sid in (20, model.topology.sid(1, 3, 2)):
        agent = model.synapses[sid]
        info = views.synapse_info(model, sid)
        rows = dict(info.memory_rows)
        tag = rule_views.number(agent.memory["tag"], 6)
        assert rows["memory: tag"].startswith(f"{tag} (mean over the step&#x27;s trials of δ x pre activity")
        weight = float(agent.feedback.weight)
        assert agent.feedback.pre == agent.post and agent.feedback.post == agent.pre
        assert (
            f'data-weight="{weight!r}">{rule_views.number(weight, 6)}</b>'
            in rows["feedback synapse (reverse edge) weight"]
        )
        assert "learned: it changes by the same step" in rows["feedback synapse (reverse edge) weight"]
        assert info.memory["feedback_weight"] == weight
        assert "feedback synapse (reverse edge) weight" in views.synapse_html(info)

    symmetric = stepped(DashboardModel(task_name="digits", hidden="4", rule="qagrel", raster_length=5), 1)
    assert symmetric.synapses[5].feedback is None
    rows = dict(views.synapse_info(symmetric, 5).memory_rows)
    assert "symmetric feedback travels back through this synapse" in rows["feedback synapse"]


def test_inspector_shows_whether_a_synaptic_rl_synapse_explored():
    model = stepped(DashboardModel(base_scenario=small_scenario(), epsilon=0.5, raster_length=5), 1)
    seen = set()
    for agent in model.synapses[:40]:
        rows = dict(rule_views.synaptic_rl_rows(views.synapse_info(model, agent.sid)))
        explored = bool(agent.memory["explored"])
        assert rows["memory: explored"] == rule_views.EXPLORED_WORDS[explored]
        seen.add(explored)
    assert seen == {True, False}
    fresh = DashboardModel(base_scenario=small_scenario(), raster_length=5)
    assert (
        dict(rule_views.synaptic_rl_rows(views.synapse_info(fresh, 0)))["memory: explored"] == "false (no action yet)"
    )


def test_page_switches_to_qagrel_and_the_trial_control_moves_the_pathway():
    rc = render_page(small_scenario())
    (task,) = [w for w in rc.find(v.Select).widgets if w.label == "task"]
    task.v_model = "digits"
    hidden = rc.find(v.TextField, label="hidden layers (e.g. 100 or 32, 16; empty: none)").widget
    hidden.v_model = "6"
    hidden.fire_event("focusout", None)
    (rule,) = [w for w in rc.find(v.Select).widgets if w.label.startswith("learning rule")]
    rule.v_model = "qagrel"
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert 'data-rule="qagrel"' in html_of(rc) and "no trials recorded yet" in html_of(rc)
    rc.find(v.Btn, children=["Step"]).widget.click()
    text = html_of(rc)
    assert 'class="synsim-trials"' in text and "synsim-class-counts" in text and "synsim-problem" not in text
    widget = rc.find(NetworkWidget).widget
    assert "1" in widget.pathway and widget.output >= 0
    index = rc.find(v.TextField, label="trial index").widget
    index.v_model = "11"  # typed, then applied on leaving the field
    index.fire_event("focusout", None)
    text = html_of(rc)
    assert 'data-trial="11" class="synsim-chosen"' in text
    note = re.search(r'synsim-pathway-note" data-trial="(\d+)" data-synapses="(\d+)"', text)
    assert note.groups() == ("11", str(widget.pathway.count("1")))
