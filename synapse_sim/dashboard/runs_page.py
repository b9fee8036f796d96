"""The runs page: ``synapse-sim dashboard RUN_FOLDER RUN_FOLDER ...`` (or a folder of runs, e.g. a
``compare`` or ``table1`` output) overlays the runs' recorded curves, with smoothing and a legend per
run, a table of the parameters that differ and the final figures, CSV of the curves and PNG of the
overlay one click each; it reads the folders again while a run is still writing."""

from __future__ import annotations

import threading
from pathlib import Path

import solara

from .components import CSS
from .sliders import ValueSlider
from .view_parts import Html
from .views import runs as rv

POLL_SECONDS = 2.0
RUNS_CSS = """
.synsim-runs-table { border-collapse: collapse; font-size: 12px; margin-top: 6px; }
.synsim-runs-table td, .synsim-runs-table th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
.synsim-runs-table td:first-child, .synsim-runs-table th:first-child { text-align: left; }
"""


def make_runs_page(paths):
    """A ``Page`` component over the results folders found in ``paths`` (:func:`~.views.runs.find_runs`)."""
    folders = rv.find_runs(paths)

    @solara.component
    def Page():
        version = solara.use_reactive(0)
        smoothing = solara.use_reactive(1)

        def watch(cancel: threading.Event):
            seen = rv.stamp(folders)
            while not cancel.wait(POLL_SECONDS):
                now = rv.stamp(folders)
                if now != seen:
                    seen = now
                    version.set(version.value + 1)

        solara.use_thread(watch, [])
        runs = solara.use_memo(lambda: rv.read_runs(folders), [version.value])
        solara.Style(CSS + RUNS_CSS)
        with solara.AppBar():
            solara.AppBarTitle(f"synapse_sim: {len(runs)} runs")
        with solara.Column(style={"padding": "8px", "max-width": "1100px"}):
            if not runs:
                where = ", ".join(map(str, paths))
                Html(f'<div class="synsim-problem">no results folder (with a history.npz) in {where}</div>')
                return
            Html(
                f'<div class="synsim-note synsim-runs-source" data-version="{version.value}">{len(runs)} runs from '
                f"{', '.join(sorted({str(Path(p).parent) for p in folders}))}; read again when a run writes "
                f"(checked every {POLL_SECONDS:.0f} s)</div>"
            )
            ValueSlider("smoothing (running mean, steps)", smoothing.value, smoothing.set, 1, 500, 1, integer=True)
            Html(rv.overlay_svg(runs, smoothing.value))
            with solara.Row():
                solara.FileDownload(
                    lambda: rv.runs_csv(runs), filename="runs.csv", label="CSV of the curves", mime_type="text/csv"
                )
                solara.FileDownload(
                    lambda: rv.overlay_png(runs, smoothing.value),
                    filename="runs.png",
                    label="PNG of the overlay",
                    mime_type="image/png",
                )
            Html(rv.runs_table_html(runs))

    return Page
