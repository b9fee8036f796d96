"""The page around the views: Mesa's SolaraViz layout, with named tabs and sliders that show their values.

Mesa's ``SolaraViz`` names its tabs "Page 0", "Page 1" ... and draws its sliders with the
value visible only while dragging; both are fixed inside it. :func:`SynapseViz` is the same
layout built from Mesa's own parts (``ModelController`` for Step / Play / Reset, the
same draggable grid of views), with real tab names, every slider's value shown beside its
label, the model parameters of the chosen learning rule only, and an optional panel (the
run: where it came from, fast-forward) in the sidebar.
"""

from __future__ import annotations

import html

import solara
from mesa.visualization.solara_viz import ModelController, make_initial_grid_layout

from .controls import SYNAPTIC_RL, SYNAPTIC_RL_CONTROLS, controls_of, rule_controls, state_space_note
from .params import control_values, initial_kwargs, pending_changes
from .sliders import ValueSlider, slider_text  # noqa: F401 (slider_text: re-exported)
from .views.status import problems_html

TAB_NAMES = {0: "agent view"}


def rule_specific() -> set[str]:
    """The controls that belong to one learning rule (shown only while that rule is chosen)."""
    return {*SYNAPTIC_RL_CONTROLS, *(c.name for controls in rule_controls(every_task=True).values() for c in controls)}


@solara.component
def ParameterInputs(params: dict, values: solara.Reactive[dict]):
    """The model parameters (Mesa's ``model_params`` format), the chosen rule's only; Reset applies them."""
    current = values.value
    specific = rule_specific()
    shown = set(controls_of(current.get("rule") or SYNAPTIC_RL))

    def setter(name):
        return lambda value: values.set({**values.value, name: value})

    for name, spec in params.items():
        if not isinstance(spec, dict) or "type" not in spec or (name in specific and name not in shown):
            continue
        kind, label, value = spec["type"], spec.get("label", name), current.get(name, spec.get("value"))
        if kind in ("SliderFloat", "SliderInt"):
            ValueSlider(label, value, setter(name), spec["min"], spec["max"], spec["step"], kind == "SliderInt")
        elif kind == "Select":
            solara.Select(label, value=value, values=spec["values"], on_value=setter(name))
        elif kind == "Checkbox":
            solara.Checkbox(label=label, value=bool(value), on_value=setter(name))
        elif kind == "InputText":
            solara.InputText(label=label, value=value, on_value=setter(name))
        else:
            raise ValueError(f"control {name}: {kind} is not a supported input type")


@solara.component
def ViewTabs(components: list, model, names: dict):
    """The views in a draggable grid per tab, as SolaraViz lays them out, under real tab names."""
    tab, set_tab = solara.use_state(0)
    pages: dict[int, list] = {}
    for component, page in components:
        pages.setdefault(page, []).append(component)
    order = sorted(pages)
    layouts, set_layouts = solara.use_state({page: make_initial_grid_layout(len(pages[page])) for page in order})
    with solara.v.Tabs(v_model=tab, on_v_model=set_tab):
        for page in order:
            solara.v.Tab(children=[names.get(page, f"views {page}")])
    with solara.v.Window(v_model=tab):
        for i, page in enumerate(order):
            with solara.v.WindowItem():
                if i == tab:

                    def on_layout(layout, page=page):
                        set_layouts(lambda old: {**old, page: layout})

                    solara.GridDraggable(
                        items=[component(model) for component in pages[page]],
                        grid_layout=layouts.get(page) or make_initial_grid_layout(len(pages[page])),
                        resizable=True,
                        draggable=True,
                        on_grid_layout=on_layout,
                    )


@solara.component
def SynapseViz(
    model: solara.Reactive,
    params: dict,
    components: list,
    name: str,
    play_interval: int = 100,
    render_interval: int = 1,
    tab_names: dict | None = None,
    panel=None,
):
    """SolaraViz's page: title, Controls (intervals, Step / Play / Reset), ``panel`` (a component of the
    model, in a "Run" card), Model Parameters, then the views' tabs. ``model`` is the page's reactive
    model: Reset replaces its value with ``type(model)(**parameters)``."""
    values = solara.use_reactive(initial_kwargs(params))
    play = solara.use_reactive(play_interval)
    render = solara.use_reactive(render_interval)
    threads = solara.use_reactive(False)
    vectorised = solara.use_reactive(True)
    per_render = solara.use_reactive(1 if vectorised.value else render.value)  # the model.step() calls per render

    def vectorised_steps():  # vectorised: one model.step() per render, running the render's steps in the engine
        model.value.vectorised_steps = render.value if vectorised.value and render.value > 1 else 0
        per_render.set(1 if vectorised.value else render.value)

    solara.use_effect(vectorised_steps, [model.value, render.value, vectorised.value])
    running, length = model.value.config, model.value.action_log.maxlen

    def follow_the_model():  # the controls show what the model runs (after a fallback too)
        values.set({**values.value, **control_values(running, length)})

    solara.use_effect(follow_the_model, [model.value])
    with solara.AppBar():
        solara.AppBarTitle(name)
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            ValueSlider("Play Interval (ms)", play.value, play.set, 1, 500, 1, integer=True)
            ValueSlider("Render Interval (steps)", render.value, render.set, 1, 100, 1, integer=True)
            solara.Checkbox(label="play in the vectorised backend between renders (the same steps)", value=vectorised)
            solara.Checkbox(label="Use Threads", value=threads)
            if threads.value:
                solara.Text("Increase play interval to avoid skipping plots")
            ModelController(
                model,
                model_parameters=values,
                play_interval=play,
                render_interval=per_render,
                use_threads=threads,
            )
        if panel is not None:
            with solara.Card("Run"):
                panel(model.value)
        with solara.Card("Model Parameters"):
            solara.HTML(  # always there, so the inputs below keep their widgets
                tag="div",
                unsafe_innerHTML=problems_html(list(getattr(model.value, "problems", []))),
                classes=["synsim-problems"],
            )
            pending = pending_changes(values.value, running, length)
            solara.HTML(  # always there (empty when nothing is pending), so the inputs below keep their widgets
                tag="div",
                unsafe_innerHTML=(
                    f"changed: {html.escape(', '.join(pending))} &mdash; <b>press Reset to apply</b>" if pending else ""
                ),
                classes=["synsim-pending"],
            )
            ParameterInputs(params, values)
            if (values.value.get("rule") or SYNAPTIC_RL) == SYNAPTIC_RL:
                solara.HTML(
                    tag="div",
                    unsafe_innerHTML=html.escape(state_space_note(values.value.get("features"))),
                    classes=["synsim-state-space"],
                )
    ViewTabs(components, model.value, tab_names if tab_names is not None else TAB_NAMES)
