"""The browser dashboard: a Solara app on Mesa's visualization parts for the agent view.

* :mod:`.views` builds each view's data and picture from a model (no browser needed);
* :mod:`.components` puts thin Solara components on top of them (:mod:`.control_views`: a control
  task's environment frames and spikes, from the last episode kept and replayed by :mod:`.episode`);
* :mod:`.page` lays them out as SolaraViz does (named tabs, sliders that show their values);
* :mod:`.run_panel` shows where the state comes from and fast-forwards in the vectorised backend;
* :mod:`.model` adapts :class:`~synapse_sim.model.SynapseModel` to the controls (:mod:`.controls`,
  :mod:`.rule_controls`), opens results folders (:mod:`.run_folder`) and fast-forwards;
* :mod:`.assets` fills solara-server's front-end cache from the npm registry (offline use);
* :mod:`.server` starts the server: ``python -m synapse_sim.dashboard.server [SCENARIO | RUN_FOLDER]``.

The Solara page itself is :mod:`synapse_sim.app` (Mesa's convention).
"""
