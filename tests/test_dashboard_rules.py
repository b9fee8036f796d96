"""The dashboard's views under every registered learning rule, without a browser: each renders, the
inspector shows the rule's own memory and an honest weight trace, and a real-valued broadcast draws
its sign in the raster strip.
"""

from __future__ import annotations

import html

import ipywidgets
import numpy as np
import pytest
from conftest import decode, html_of, render_all, stepped

from synapse_sim.dashboard import rule_views, views
from synapse_sim.dashboard.model import DashboardModel
from synapse_sim.dashboard.rule_controls import dashboard_rules
from synapse_sim.rules import RULES

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
