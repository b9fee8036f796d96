"""Thin Solara components over :mod:`.views`, one per dashboard view.

Each view component takes the model (as SolaraViz passes it) and reads Mesa's
``update_counter``, so it redraws after every step. The views that know about "the
selected synapse" also take a ``solara.Reactive[int]`` shared between them: clicking
an edge of the network selects the synapse the inspector shows.
"""

from __future__ import annotations

import html
import json

import numpy as np
import reacton.core
import solara
from mesa.visualization.utils import update_counter

from . import rule_views, views
from .control_views import CONTROL_CSS, EnvironmentView, SpikeRaster
from .episode import runs_episodes
from .network_widget import NETWORK_TEMPLATE, NetworkWidget
from .raster_widget import RasterWidget
from .sliders import ValueSlider

__all__ = [
    "CSS",
    "NETWORK_TEMPLATE",
    "CurvesView",
    "FrameRelay",
    "NetworkView",
    "NetworkWidget",
    "PolicyView",
    "RasterView",
    "SynapseInspector",
    "TaskView",
    "TrialsView",
    "dashboard_components",
]

BOX = {"height": "382px", "overflow-y": "auto", "overflow-x": "hidden", "padding": "2px 6px", "width": "100%"}

CSS = (
    """
.synsim-view { font-family: sans-serif; font-size: 12px; color: #222; }
.synsim-title { font-weight: bold; font-size: 13px; margin: 2px 0; }
.synsim-note { color: #555; font-size: 11px; margin: 1px 0 3px 0; }
.synsim-status { font-size: 12px; margin-bottom: 2px; }
.synsim-problem { color: #b35806; font-size: 11px; }
.synsim-swatch { display: inline-block; width: 10px; height: 10px; margin: 0 2px 0 8px; vertical-align: middle; }
img.synsim-pixelated, .synsim-strip, .synsim-letter img { image-rendering: pixelated; }
.synsim-strip { width: 100%; height: 14px; }
.synsim-raster-scroll { overflow-y: auto; border: 1px solid #ddd; }
.synsim-nodata { outline: 1px solid #999; }
.synsim-qlabels { font-size: 10px; text-align: right; white-space: nowrap; color: #333; }
.synsim-qhead { height: 12px; line-height: 12px; font-size: 10px; color: #555; white-space: nowrap; }
.synsim-qrow { height: 12px; line-height: 12px; }
img.synsim-qimg { display: block; }
.synsim-legend, .synsim-letters-head { font-size: 11px; color: #444; margin-bottom: 4px; }
.synsim-letters { display: flex; flex-wrap: wrap; }
.synsim-letter { margin: 3px; text-align: center; font: bold 14px sans-serif; }
.synsim-letter img { width: 56px; height: 56px; border: 1px solid #ddd; display: block; }
.synsim-true { font-weight: normal; color: #777; font-size: 11px; }
.synsim-kv { font-size: 11px; border-collapse: collapse; margin: 3px 0; }
.synsim-kv th { text-align: left; font-weight: normal; color: #555; padding-right: 8px; white-space: nowrap; }
.synsim-slider-head { font-size: 13px; color: #444; margin-top: 6px; }
.synsim-slider-value { color: #1a1a1a; }
.synsim-slider .v-input { margin-top: 0; padding-top: 0; }
.synsim-run code, .synsim-digest code { font-size: 11px; word-break: break-all; }
.synsim-run div { margin-bottom: 2px; }
.synsim-trials { font-size: 11px; border-collapse: collapse; margin: 3px 0; }
.synsim-trials th, .synsim-trials td { padding: 0 6px; text-align: right; border-bottom: 1px solid #eee; }
.synsim-trials tr.synsim-chosen td { background: #dcfce7; font-weight: bold; }
.synsim-pathway { font-size: 11px; margin: 2px 0; }
"""
    + CONTROL_CSS
)


def action_legend(colors=views.ACTION_HEX, words=views.ACTION_WORDS) -> str:
    return "".join(
        f'<span class="synsim-swatch" style="background:{c}"></span>{w}' for c, w in zip(colors, words, strict=True)
    )


def follow_steps(frame: solara.Reactive[int] | None) -> int:
    """Subscribe the calling view to model steps: to the page's ``frame`` if given, else to Mesa's counter."""
    return frame.value if frame is not None else update_counter.get()


def pace_with_page(model) -> None:
    """Let a :class:`DashboardModel` step only between renders of the page that shows it."""
    if hasattr(type(model), "render_context"):
        model.render_context = reacton.core.get_render_context(required=False)


@solara.component
def FrameRelay(frame: solara.Reactive[int]):
    """Pass Mesa's step counter on to ``frame``, so that all views redraw in one render pass.

    Mesa's ``force_update`` bumps ``update_counter`` after each step, and every component that
    reads it is re-rendered in a render pass of its own (the whole tree is reconciled each time):
    six views, six passes. Here only this component reads it; it sets ``frame`` from an effect,
    inside the running render, so the six views that read ``frame`` are redrawn together in the
    next pass of that same render (measured: a step and its redraw in about half the time).
    """
    counter = update_counter.get()
    solara.use_effect(lambda: frame.set(counter), [counter])


def download(data, filename: str, label: str, mime_type: str):
    """One click: the view's data (a callable, made when clicked) as a file."""
    return solara.FileDownload(data, filename=filename, label=label, mime_type=mime_type)


def Html(text: str, classes: str = ""):
    return solara.HTML(tag="div", unsafe_innerHTML=text, classes=["synsim-view", *classes.split()])


@solara.component
def StatusLine(model, step: int = 0):
    """Step, loss, accuracy, reward, network and policy in one line (``step`` makes it redraw)."""
    Html(views.status_html(views.status_data(model)))


def pathway_note(model, pathway, data, large: bool) -> str:
    """What the network view says about a trial rule's feedback pathway (nothing for other rules)."""
    if not views.runs_trials(model):
        return ""
    if large:
        return (
            '<div class="synsim-note synsim-pathway-note">the feedback pathway of a trial is drawn on the network '
            "graph of small networks only; the trials panel says which neurons carry it</div>"
        )
    if pathway is None:
        return (
            '<div class="synsim-note synsim-pathway-note">after a step: the feedback pathway of the trial '
            "chosen in the trials panel, in green</div>"
        )
    source = "every output (error-backprop)" if data.every_output else f"the selected output {pathway.output}"
    return (
        f'<div class="synsim-note synsim-pathway-note" data-trial="{pathway.trial}" '
        f'data-synapses="{pathway.sids.size}"><span class="synsim-swatch" style="background:{views.PATHWAY_HEX}">'
        f"</span>feedback pathway of trial {pathway.trial} (label {int(data.labels[pathway.trial])}, selected "
        f"action {int(data.actions[pathway.trial])}): from {source} (ringed) back to the input, the "
        f"{pathway.sids.size} synapses whose post neuron has nonzero gated feedback (neurons carrying it ringed); "
        "choose the trial in the trials panel</div>"
    )


@solara.component
def NetworkView(
    model,
    selected: solara.Reactive[int] | None = None,
    frame: solara.Reactive[int] | None = None,
    trial: solara.Reactive[int] | None = None,
):
    """1. Neurons by layer, synapses coloured by their action and drawn by |weight|; large networks as images.

    Under a trial rule the feedback pathway of the chosen ``trial`` is drawn over the edges."""
    follow_steps(frame)
    pace_with_page(model)
    large = views.is_large(model.topology)
    discrete = rule_views.discrete(model)
    words = rule_views.change_words(discrete)
    geometry = solara.use_memo(
        lambda: None if large else json.dumps(views.network_geometry(model.graph).to_json()), [model]
    )
    data = None if large else views.trial_data(model)
    pathway = views.feedback_pathway(model, trial.value if trial is not None else 0, data) if data else None
    with solara.Column(style=BOX, classes=["synsim-network-view"]):
        StatusLine(model, model.steps)
        if large:
            images = views.weight_images(model)
            h, w = images.shape
            Html(
                f'<div class="synsim-title">network: {model.topology.n_synapses} synapses, shown per neuron</div>'
                f'<div class="synsim-note">each neuron of layer 1: its incoming weights as a {h}x{w} image '
                "(blue negative, red positive) | its synapses' "
                f"{'current actions' if discrete else 'weight change signs this step'}:"
                f"{action_legend(views.ACTION_HEX, words)}; "
                f"below: later layers' weight matrix | {'actions' if discrete else 'signs'} (rows: inputs, bias last)"
                "</div>" + pathway_note(model, pathway, None, large)
            )
            solara.Image(
                views.weight_images_png(images), width="100%", classes=["synsim-pixelated", "synsim-aggregate"]
            )
        else:
            state = views.network_state(model)
            sid = -1 if selected is None else int(selected.value)
            what = "action this step" if discrete else "weight change sign this step"
            marked, output = views.pathway_nodes(model.graph, pathway) if pathway is not None else ([], -1)
            Html(
                '<div class="synsim-note">neurons by layer (bias units in amber); each synapse coloured by its '
                f"{what}{action_legend(words=words)}; width ~ |weight|; click a synapse to inspect it</div>"
                + pathway_note(model, pathway, data, large)
            )
            NetworkWidget.element(
                geometry=geometry,
                actions=views.digits(state.actions),
                widths=views.joined(state.widths),
                selected=sid,
                on_selected=(lambda value: selected.set(int(value))) if selected is not None else None,
                pathway=views.digits(pathway.on) if pathway is not None else "",
                marked=",".join(str(i) for i in marked),
                output=output,
            )


@solara.component
def RasterView(model, frame: solara.Reactive[int] | None = None, selected: solara.Reactive[int] | None = None):
    """2. Synapses x recent steps coloured by action (or by the sign of the weight change, for rules
    without discrete actions), the global reward (the broadcast's sign) as a strip above. Every
    synapse has a row up to ``views.MAX_SYNAPSE_ROWS`` (the box scrolls); larger networks get one
    row per post-neuron, coloured by the fractions of its synapses' actions. Hover names the cell,
    a click on a synapse's row opens it in the inspector."""
    follow_steps(frame)
    n = model.topology.n_synapses
    data = views.raster_data(model)
    discrete = rule_views.discrete(model)
    rows = (
        f"one row per post-neuron ({data.n_rows}; {n} synapses is more than {views.MAX_SYNAPSE_ROWS}), its colour "
        "the mix of its incoming synapses' colours in their fractions"
        if data.aggregate
        else f"one row per synapse, all {n} (by sid; scroll)"
    )
    columns = (
        f"one column per {data.bin_size} steps, coloured by the fractions in them"
        if data.bin_size > 1
        else "one column per step"
    )
    title = "action raster" if discrete else "weight change raster"
    plus, minus = ("+1", "-1") if discrete else ("+", "-")
    strip = "global reward" if discrete else f"sign of the broadcast {html.escape(model.rule.broadcast_label)}"
    cells = action_legend(views.ACTION_HEX) if discrete else f" {rule_views.SIGN_LEGEND}"
    image = views.raster_rgb(data)
    with solara.Column(style=BOX, classes=["synsim-raster-view"]):
        Html(
            f'<div class="synsim-title">{title}: last {data.length} steps; {rows}; {columns}</div>'
            f'<div class="synsim-note">top strip: {strip} (<span class="synsim-swatch" style="background:'
            f'{views.REWARD_HEX[1]}"></span>{plus} <span class="synsim-swatch" style="background:'
            f'{views.REWARD_HEX[-1]}"></span>{minus}); cells:{cells}'
            f'<span class="synsim-swatch synsim-nodata" style="background:{views.NO_DATA_HEX}"></span>no data yet; '
            f"newest step on the right (steps {data.steps[0] if data.steps.size else '-'} to "
            f"{data.steps[-1] if data.steps.size else '-'}); hover names a cell"
            f"{'' if data.aggregate else ', a click opens the synapse'}</div>"
        )
        download(lambda: views.png(views.upscale(image, 2)), "raster.png", "PNG", "image/png")
        RasterWidget.element(
            src=views.data_uri(views.png(image)),
            rows=data.n_rows,
            height=image.shape[0],
            top=image.shape[0] - data.n_rows,
            columns=image.shape[1],
            newest=int(data.steps[-1]) if data.steps.size else 0,
            bin=data.bin_size,
            labels=solara.use_memo(lambda: "\n".join(data.labels), [model]),
            clickable=not data.aggregate and selected is not None,
            picked=-1,
            last=views.digits(data.actions[:, -1]) if data.steps.size and not data.aggregate else "",
            on_picked=(lambda row: selected.set(int(row))) if selected is not None and not data.aggregate else None,
        )
        if views.spiking(model):
            SpikeRaster(model, model.steps)


@solara.component
def CurvesView(model, frame: solara.Reactive[int] | None = None):
    """3. Loss, accuracy, reward and the action mix per step: a run folder's recorded history and
    fast-forwarded steps (shaded), then the agents' steps from the DataCollector."""
    follow_steps(frame)
    smoothing = solara.use_reactive(1)
    data = views.curves_data(model)
    with solara.Column(style=BOX, classes=["synsim-curves-view"]):
        Html(
            '<div class="synsim-title">curves: every step; more steps than 400 drawn as the means of '
            "consecutive bins (none dropped)</div>"
        )
        Html(views.sources_text(data))
        ValueSlider("smoothing (running mean, steps)", smoothing.value, smoothing.set, 1, 500, 1, integer=True)
        with solara.Row():
            download(lambda: views.curves_csv(data), "curves.csv", "CSV", "text/csv")
            download(lambda: views.curves_png(data, smoothing.value), "curves.png", "PNG", "image/png")
        Html(
            views.curves_svg(
                data,
                broadcast_label=model.rule.broadcast_label,
                discrete=rule_views.discrete(model),
                episodes=runs_episodes(model),
                smoothing=smoothing.value,
            )
        )


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
            solara.Image(views.boundary_png(data), width="100%", classes=["synsim-boundary"])
        elif kind == "classification":
            Html('<div class="synsim-title">task: character recognition (validation images)</div>')
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


def dashboard_components(
    selected: solara.Reactive[int], frame: solara.Reactive[int] | None = None, trial: solara.Reactive[int] | None = None
) -> list:
    """The views as SolaraViz ``components``: every view on page 0 (the "agent view" tab), sharing the selected
    synapse and, under a trial rule, the chosen trial (``trial``: the trials panel sets it, the network draws it).

    With ``frame`` the views follow it (render :class:`FrameRelay` once on the page), else Mesa's counter.
    """
    trial = trial if trial is not None else solara.Reactive(0)

    def bind(view, *args):
        """A component of the model alone (what SolaraViz passes), with the page's state bound."""

        @solara.component
        def Bound(model):
            return view(model, *args)

        return Bound

    bound = [
        bind(NetworkView, selected, frame, trial),
        bind(RasterView, frame, selected),
        bind(CurvesView, frame),
        bind(PolicyView, frame, trial),
        bind(TaskView, frame),
        bind(SynapseInspector, selected, frame),
    ]
    return [(component, 0) for component in bound]
