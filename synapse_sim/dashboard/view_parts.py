"""What every dashboard view shares: its box, the page's CSS, the action legend, the redraw after a step,
one-click downloads, the status line."""

from __future__ import annotations

import reacton.core
import solara
from mesa.visualization.utils import update_counter

from . import views

BOX = {"height": "382px", "overflow-y": "auto", "overflow-x": "hidden", "padding": "2px 6px", "width": "100%"}

VIEW_CSS = """
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
