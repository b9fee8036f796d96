"""The dashboard's panels beside the network, raster and curves: a trial rule's trials, the shared Q
table (or a rule's summary), the task, one synapse."""

from __future__ import annotations

import numpy as np
import solara

from . import rule_views, views
from .control_views import EnvironmentView
from .episode import runs_episodes
from .view_parts import BOX, Html, download, follow_steps


@solara.component
def TrialsView(model, trial: solara.Reactive[int], step: int = 0):
    """4. A trial rule's last step: per trial the selected action and δ, selections per class, the chosen
    trial (whose feedback pathway the network view draws), then the rule's panel (``step`` makes it redraw)."""
    data = views.trial_data(model)
    with solara.Column(style=BOX, classes=["synsim-policy-view", "synsim-trials-view"]):
        if data is None:
            Html(views.no_trials_html(model))
        else:
            k = int(np.clip(trial.value, 0, data.n - 1))
            Html(views.trials_summary_html(data))
            with solara.Row(style={"align-items": "center"}):
                solara.SliderInt("trial", value=k, min=0, max=data.n - 1, on_value=trial.set)
                solara.InputInt(
                    "trial index", value=k, on_value=lambda value: trial.set(int(np.clip(value, 0, data.n - 1)))
                )
            Html(views.pathway_html(views.feedback_pathway(model, k, data), data, model.topology.layer_sizes))
            Html(views.trials_table_html(data, k))
            Html(views.class_counts_svg(data.class_counts))
        Html(rule_views.no_policy_html(model))


@solara.component
def PolicyView(model, frame: solara.Reactive[int] | None = None, trial: solara.Reactive[int] | None = None):
    """4. The shared Q table: states x actions, greedy action marked, states in words.

    The cells are pictures (one per block of states) beside static labels: after a step only
    the pictures change, which costs the browser far less than rebuilding a table. A rule
    without a Q table gets a panel with its summary and parameters instead, after its trials
    for a trial rule (Q-AGREL, error-backprop)."""
    follow_steps(frame)
    local = solara.use_reactive(0)
    if views.runs_trials(model):
        TrialsView(model, trial if trial is not None else local, model.steps)
        return
    if not rule_views.has_policy(model):
        with solara.Column(style=BOX, classes=["synsim-policy-view"]):
            Html(rule_views.no_policy_html(model))
        return
    data = views.policy_data(model)
    with solara.Column(style=BOX, classes=["synsim-policy-view"]):
        Html('<div class="synsim-title">shared policy: Q table (states x actions)</div>')
        Html(views.policy_legend_html(data))
        download(lambda: views.policy_table_png(data), "policy.png", "PNG", "image/png")
        with solara.Row(gap="14px", style={"flex-wrap": "wrap", "align-items": "flex-start"}):
            for start, stop in views.policy_blocks(len(data.labels)):
                with solara.Row(gap="4px", style={"align-items": "flex-start"}):
                    Html(views.policy_labels_html(data.labels, start, stop))
                    with solara.Column(gap="0px"):
                        Html(views.policy_header_html())
                        solara.Image(views.policy_png(data, start, stop), classes=["synsim-qimg"])


@solara.component
def TaskView(model, frame: solara.Reactive[int] | None = None):
    """5. Target vs learned decision boundary, validation images with predicted letters, or a control
    task's environment (the last episode's frames)."""
    follow_steps(frame)
    kind = views.task_kind(model)
    with solara.Column(style=BOX, classes=["synsim-task-view"]):
        if runs_episodes(model):
            EnvironmentView(model, model.steps)
        elif kind == "decision_boundary":
            data = views.boundary_data(model)
            agree = float(np.mean(data.learned == data.target))
            Html(
                '<div class="synsim-title">task: decision boundary</div>'
                f'<div class="synsim-note">left: target labels; right: the network\'s labels; black line: the '
                f"target boundary; x1 right, x2 up, both in [{data.axis[0]:g}, {data.axis[-1]:g}]; "
                f"grid agreement {agree:.3f}</div>"
            )
            download(lambda: views.task_png(model, kind), "task.png", "PNG", "image/png")
            solara.Image(views.boundary_png(data), width="100%", classes=["synsim-boundary"])
        elif kind == "classification":
            Html('<div class="synsim-title">task: character recognition (validation images)</div>')
            download(lambda: views.task_png(model, kind), "task.png", "PNG", "image/png")
            Html(views.letters_html(views.letters_data(model)))
        else:
            Html(f"<div>no view for task {type(model.task).__name__}</div>")


@solara.component
def SynapseInspector(model, selected: solara.Reactive[int] | None = None, frame: solara.Reactive[int] | None = None):
    """6. One synapse: weight, memory, state, action history; chosen by the slider or a click on the network."""
    follow_steps(frame)
    local = solara.use_reactive(0)
    selected = selected if selected is not None else local
    n = model.topology.n_synapses
    sid = int(np.clip(selected.value, 0, n - 1))
    with solara.Column(style=BOX, classes=["synsim-synapse-view"]):
        with solara.Row(style={"align-items": "center"}):
            solara.SliderInt("synapse", value=sid, min=0, max=n - 1, on_value=selected.set)
            solara.InputInt("sid", value=sid, on_value=lambda value: selected.set(int(np.clip(value, 0, n - 1))))
        Html(views.synapse_html(views.synapse_info(model, sid), model.action_log.maxlen or 200))
        terms = views.synapse_episode_html(model, sid)
        if terms:
            Html(terms)
