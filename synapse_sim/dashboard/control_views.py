"""Solara components of a control task's views: the environment's frames, the spiking raster, a synapse's terms.

One model step is one whole episode; :class:`EnvironmentView` replays the last one frame by frame
(a slider over its time steps, the last frame until one is chosen), :class:`SpikeRaster` shows the
neurons' spikes (hidden and output) over its time steps (spiking rule). The numbers come from :mod:`.views`.
"""

from __future__ import annotations

import html

import solara

from . import views
from .view_parts import Html, download

CONTROL_CSS = """
img.synsim-frame { display: block; max-width: 100%; max-height: 240px; width: auto; image-rendering: pixelated;
  border: 1px solid #ddd; }
img.synsim-spikes { width: 100%; height: 200px; image-rendering: pixelated; }
"""


@solara.component
def EnvironmentView(model, step: int = 0):
    """5. The last episode: its frame at the chosen time step, what happened there, its cumulative reward
    (``step`` makes it redraw). A new episode shows its last frame until a time step is chosen."""
    chosen, set_chosen = solara.use_state((None, 0))  # (the episode's step, the time step chosen in it)
    episode = model.episode  # a snapshot: the play thread may replace it meanwhile
    data = views.environment_data(model, episode)
    if data is None:
        Html(views.no_episode_html(model))
        return
    t = min(chosen[1], data.length) if chosen[0] == data.step else data.length
    Html(views.episode_html(data, t))
    solara.SliderInt(
        "time step",
        value=t,
        min=0,
        max=max(data.length, 1),
        on_value=lambda value: set_chosen((data.step, int(value))),
        thumb_label=True,
    )
    image, why = views.frame_png(episode, t)
    if image is not None:
        download(image, f"frame_{data.step}_{t}.png", "PNG", "image/png")
        solara.Image(image, classes=["synsim-frame"])
    else:
        Html(f'<div class="synsim-problem synsim-no-frames">{html.escape(why)}</div>')
    Html('<div class="synsim-note">cumulative reward over the episode:</div>' + views.rewards_svg(data))


@solara.component
def SpikeRaster(model, step: int = 0):
    """Under the spiking rule: each neuron's spike per time step of the last episode, hidden layers then
    the output populations (``step`` redraws)."""
    data = views.spike_data(model.episode)
    if data is None:
        Html('<div class="synsim-note synsim-no-spikes">spikes: after a step (one step runs one episode)</div>')
        return
    Html(views.spike_html(data))
    solara.Image(views.spike_png(data), classes=["synsim-spikes"])
