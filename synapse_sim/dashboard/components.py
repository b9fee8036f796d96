"""Thin Solara components over :mod:`.views`, one per dashboard view.

Each view component takes the model (as SolaraViz passes it) and reads Mesa's
``update_counter``, so it redraws after every step. The views that know about "the
selected synapse" also take a ``solara.Reactive[int]`` shared between them: clicking
an edge of the network selects the synapse the inspector shows.
"""

from __future__ import annotations

import html
import json

import solara

from . import rule_views, views
from .control_views import CONTROL_CSS, SpikeRaster
from .episode import runs_episodes
from .network_widget import NETWORK_TEMPLATE, NetworkWidget
from .panels import PolicyView, SynapseInspector, TaskView, TrialsView
from .raster_widget import RasterWidget
from .sliders import ValueSlider
from .view_parts import (
    BOX,
    VIEW_CSS,
    FrameRelay,
    Html,
    StatusLine,
    action_legend,
    download,
    follow_steps,
    pace_with_page,
)

CSS = VIEW_CSS + CONTROL_CSS

__all__ = [
    "BOX",
    "CSS",
    "NETWORK_TEMPLATE",
    "CurvesView",
    "FrameRelay",
    "Html",
    "NetworkView",
    "NetworkWidget",
    "PolicyView",
    "RasterView",
    "StatusLine",
    "SynapseInspector",
    "TaskView",
    "TrialsView",
    "action_legend",
    "dashboard_components",
    "download",
    "follow_steps",
]


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
        download(lambda: views.network_png(model), "network.png", "PNG", "image/png")
        change = "current actions" if discrete else "weight change signs this step"
        if large and views.shows_as_images(model.topology):
            images = views.weight_images(model)
            h, w = images.shape
            Html(
                f'<div class="synsim-title">network: {model.topology.n_synapses} synapses, shown per neuron</div>'
                f'<div class="synsim-note">each neuron of layer 1: its incoming weights as a {h}x{w} image '
                f"(blue negative, red positive) | its synapses' {change}:{action_legend(views.ACTION_HEX, words)}; "
                f"below: later layers' weight matrix | {'actions' if discrete else 'signs'} (rows: inputs, bias last)"
                "</div>" + pathway_note(model, pathway, None, large)
            )
            solara.Image(
                views.weight_images_png(images), width="100%", classes=["synsim-pixelated", "synsim-aggregate"]
            )
        elif large:
            matrices = views.weight_matrices(model)
            Html(
                f'<div class="synsim-title">network: {model.topology.n_synapses} synapses, one cell each</div>'
                '<div class="synsim-note">per layer, its weights (blue negative, red positive) | its synapses\' '
                f"{change}:{action_legend(views.ACTION_HEX, words)}; "
                f"{views.matrices_note(matrices, model.topology.layer_sizes)}; scroll for the rest</div>"
                + pathway_note(model, pathway, None, large)
            )
            solara.Image(views.weight_matrices_png(matrices), classes=["synsim-pixelated", "synsim-matrices"])
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
