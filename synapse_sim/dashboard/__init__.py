"""The browser dashboard: a Solara app on Mesa's ``SolaraViz`` for the agent view.

* :mod:`.views` builds each view's data and picture from a model (no browser needed);
* :mod:`.components` puts thin Solara components on top of them;
* :mod:`.model` adapts :class:`~synapse_sim.model.SynapseModel` to SolaraViz's controls;
* :mod:`.assets` fills solara-server's front-end cache from the npm registry (offline use);
* :mod:`.server` starts the server: ``python -m synapse_sim.dashboard.server [SCENARIO]``.

The Solara page itself is :mod:`synapse_sim.app` (Mesa's convention).
"""
