"""The browser dashboard of the agent view (Solara, on Mesa's SolaraViz parts).

Start it with ``synapse-sim dashboard [SCENARIO | RUN_FOLDER | RUN_FOLDER RUN_FOLDER ... | FOLDER_OF_RUNS]`` (or
``python -m synapse_sim.dashboard.server ...``); ``solara run synapse_sim.app`` works too.
A scenario comes from ``$SYNAPSE_SIM_DASHBOARD_SCENARIO`` (its values are the controls'
defaults); a results folder from ``$SYNAPSE_SIM_DASHBOARD_RUN`` (the agents continue the
run from its checkpoint, the curves start with its recorded history); several folders from
``$SYNAPSE_SIM_DASHBOARD_RUNS`` (the runs page: :mod:`synapse_sim.dashboard.runs_page`). In a notebook,
``make_page(scenario, task)()`` or ``make_page(run_folder=PATH)()`` shows the same page.
"""

from __future__ import annotations

import collections
import os

import solara

from synapse_sim.dashboard.components import CSS, FrameRelay, dashboard_components
from synapse_sim.dashboard.model import DashboardModel, initial_kwargs, model_params
from synapse_sim.dashboard.page import SynapseViz
from synapse_sim.dashboard.run_folder import open_run_folder
from synapse_sim.dashboard.run_panel import RunPanel
from synapse_sim.scenario import Scenario

SCENARIO_ENV = "SYNAPSE_SIM_DASHBOARD_SCENARIO"
RUN_ENV = "SYNAPSE_SIM_DASHBOARD_RUN"
RUNS_ENV = "SYNAPSE_SIM_DASHBOARD_RUNS"  # several results folders (os.pathsep between): the runs page
PLAY_INTERVAL_MS = 10
"""Pause between played steps. The play thread steps only between renders of the page
(:func:`synapse_sim.dashboard.model.wait_for_page`), so a short interval cannot starve a click's render."""
TITLE = "synapse_sim: every synapse an agent"


def make_page(
    scenario: Scenario | None = None,
    task=None,
    raster_length: int = 200,
    play_interval=PLAY_INTERVAL_MS,
    run_folder=None,
):
    """A ``Page`` component over a :class:`DashboardModel` built per browser session.

    With ``run_folder`` (a results folder) the folder's scenario gives the controls' defaults
    and the model continues the run from its checkpoint; ``scenario`` is then ignored.
    """
    if run_folder is not None:
        folder = open_run_folder(run_folder)  # a folder that cannot be opened fails here, not in the browser
        scenario, run_folder = folder.scenario, str(folder.path)
    params = model_params(scenario, task, raster_length)
    if run_folder is not None:
        params["run_folder"] = run_folder

    @solara.component
    def Page():
        # one model per browser session (solara's session cookie), kept across reloads of the page; a
        # module-level model would be shared by every browser, one per page render lost on reload
        key = solara.use_memo(browser_session, [])
        model = solara.use_reactive(solara.use_memo(lambda: kept_model(key, params), []))

        def remember():
            if key is not None:
                KEPT[key] = model.value
                KEPT.move_to_end(key)
                while len(KEPT) > MAX_KEPT:
                    KEPT.popitem(last=False)

        solara.use_effect(remember, [model.value])
        selected = solara.use_reactive(0)
        frame = solara.use_reactive(0)
        trial = solara.use_reactive(0)  # the trial whose feedback pathway the network draws (trial rules)
        components = solara.use_memo(lambda: dashboard_components(selected, frame, trial), [])
        panel = solara.use_memo(lambda: bound_panel(frame), [])
        solara.Style(CSS)
        FrameRelay(frame)
        SynapseViz(model, params, components, name=TITLE, play_interval=play_interval, panel=panel)

    return Page


KEPT: collections.OrderedDict[str, DashboardModel] = collections.OrderedDict()
"""The models by browser session, so that a reload finds its run (the most recent sessions kept)."""
MAX_KEPT = 16


def browser_session() -> str | None:
    """The browser's solara session (a cookie: the same across reloads and tabs), or None outside a server."""
    try:
        return solara.get_session_id()
    except RuntimeError:  # rendered without solara-server (a notebook, a test)
        return None


def kept_model(key: str | None, params: dict) -> DashboardModel:
    """The model kept for the browser session ``key`` (the page was reloaded), else a new one from the
    controls' defaults."""
    model = KEPT.get(key) if key is not None else None
    return model if model is not None else DashboardModel(**initial_kwargs(params))


def bound_panel(frame):
    @solara.component
    def Panel(model):
        return RunPanel(model, frame)

    return Panel


def page_from_environment():
    runs = os.environ.get(RUNS_ENV)
    if runs:
        from synapse_sim.dashboard.runs_page import make_runs_page

        return make_runs_page(runs.split(os.pathsep))
    folder = os.environ.get(RUN_ENV)
    if folder:
        return make_page(run_folder=folder)
    path = os.environ.get(SCENARIO_ENV)
    return make_page(Scenario.load(path) if path else None)


Page = page_from_environment()
