"""The browser dashboard of the agent view (Solara on Mesa's SolaraViz).

Start it with ``synapse-sim dashboard [SCENARIO]`` (or
``python -m synapse_sim.dashboard.server [SCENARIO]``); ``solara run synapse_sim.app``
works too. The scenario, if any, comes from ``$SYNAPSE_SIM_DASHBOARD_SCENARIO``; its
values are the controls' defaults. In a notebook, ``make_page(scenario, task)()``
shows the same page for a scenario or task object of your own.
"""

from __future__ import annotations

import os

import solara
from mesa.visualization import SolaraViz

from synapse_sim.dashboard.components import CSS, FrameRelay, dashboard_components
from synapse_sim.dashboard.model import DashboardModel, initial_kwargs, model_params
from synapse_sim.scenario import Scenario

SCENARIO_ENV = "SYNAPSE_SIM_DASHBOARD_SCENARIO"
PLAY_INTERVAL_MS = 10
"""Pause between played steps. The play thread steps only between renders of the page
(:func:`synapse_sim.dashboard.model.wait_for_page`), so a short interval cannot starve a click's render."""
TITLE = "synapse_sim: every synapse an agent"


def make_page(scenario: Scenario | None = None, task=None, raster_length: int = 200, play_interval=PLAY_INTERVAL_MS):
    """A ``Page`` component: SolaraViz over a :class:`DashboardModel` built per browser session."""
    params = model_params(scenario, task, raster_length)

    @solara.component
    def Page():
        # one model per session (a module-level model would be shared by every browser tab)
        model = solara.use_memo(lambda: DashboardModel(**initial_kwargs(params)), [])
        selected = solara.use_reactive(0)
        frame = solara.use_reactive(0)
        components = solara.use_memo(lambda: dashboard_components(selected, frame), [])
        solara.Style(CSS)
        FrameRelay(frame)
        SolaraViz(model, components=components, model_params=params, play_interval=play_interval, name=TITLE)

    return Page


def page_from_environment():
    path = os.environ.get(SCENARIO_ENV)
    return make_page(Scenario.load(path) if path else None)


Page = page_from_environment()
