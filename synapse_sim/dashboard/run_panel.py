"""The run panel: where the model's state comes from, its fingerprints, and fast-forward.

It says whether the agents continue a results folder's run (and from which checkpoint
step) or a new run, lists the fast-forwards so far, and shows SHA-256 digests of the
weights and of the whole state (weights, every synapse's memory, the rule's shared state,
the counters), so that the agents' state can be compared with a vectorised run's at a
glance. "Fast-forward" runs N steps in the vectorised backend in a background thread
(:meth:`~.model.DashboardModel.fast_forward`) and hands the result back to the agents.
"""

from __future__ import annotations

import html
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import solara
import solara.lab
from mesa.visualization.utils import force_update

from .view_parts import Html, follow_steps

DEFAULT_FAST_FORWARD = 1000
PROGRESS_EVERY_S = 0.25  # how often a running fast-forward updates its progress bar


@dataclass
class RunInfo:
    step: int
    weights_sha256: str
    state_sha256: str
    folder: str | None  # the results folder the model continues
    opened_at: int | None  # that folder's checkpoint step
    scenario: str | None  # the scenario file of a new run
    fast_forwards: list[tuple[int, int]] = field(default_factory=list)
    iterations: int | None = None  # run.iterations of the scenario


def run_info(model) -> RunInfo:
    digests = model.digests() if hasattr(model, "digests") else ("", "")
    folder = getattr(model, "run_folder", None)
    source = getattr(model.config, "source", None)
    return RunInfo(
        step=int(model.simulation.step_count),
        weights_sha256=digests[0],
        state_sha256=digests[1],
        folder=str(folder) if folder is not None else None,
        opened_at=getattr(model, "opened_at", None),
        scenario=Path(source).name if source else None,
        fast_forwards=list(getattr(model, "fast_forwards", [])),
        iterations=int(model.config["run"]["iterations"]),
    )


def run_html(info: RunInfo) -> str:
    if info.folder is not None:
        origin = (
            f'continues the run in <code class="synsim-run-folder">{html.escape(info.folder)}</code> '
            f"from its checkpoint at step <b>{info.opened_at}</b> (of run.iterations {info.iterations}; "
            "the curves start with the run's recorded history)"
        )
    else:
        origin = "a new run" + (f" of {html.escape(info.scenario)}" if info.scenario else "")
    forwards = ", ".join(f"{a}&rarr;{b}" for a, b in info.fast_forwards[-5:])
    if len(info.fast_forwards) > 5:
        forwards = f"... {forwards}"
    short = (info.weights_sha256[:16] + "&hellip;") if info.weights_sha256 else "-"
    state = (info.state_sha256[:16] + "&hellip;") if info.state_sha256 else "-"
    return (
        f'<div class="synsim-run" data-step="{info.step}" data-weights-sha256="{info.weights_sha256}" '
        f'data-state-sha256="{info.state_sha256}" data-folder="{html.escape(info.folder or "")}" '
        f'data-opened-at="{info.opened_at if info.opened_at is not None else ""}">'
        f"<div>{origin}</div>"
        + (f"<div>fast-forwarded (vectorised): {forwards}</div>" if forwards else "")
        + f'<div>step <b class="synsim-run-step">{info.step}</b></div>'
        f'<div class="synsim-digest" title="SHA-256 of the weight vector\'s bytes: {info.weights_sha256}">'
        f"weights SHA-256 <code>{short}</code></div>"
        f'<div class="synsim-digest" title="SHA-256 of every array of the state: {info.state_sha256}">'
        f"state SHA-256 <code>{state}</code></div></div>"
    )


@solara.component
def RunPanel(model, frame: solara.Reactive[int] | None = None):
    """Where the state comes from, its digests, and "fast-forward N steps" in the vectorised backend."""
    follow_steps(frame)
    n_steps = solara.use_reactive(DEFAULT_FAST_FORWARD)
    progress = solara.use_reactive((0, 0))
    stop = solara.use_memo(threading.Event, [model])
    solara.use_effect(lambda: stop.set, [stop])  # a new model (Reset) stops the old one's fast-forward
    can_forward = hasattr(model, "fast_forward")

    def run():
        stop.clear()
        last = [0.0]

        def report(done, total):
            now = time.monotonic()
            if done == total or now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                progress.set((done, total))

        progress.set((0, int(n_steps.value or 0)))
        model.fast_forward(int(n_steps.value or 0), progress=report, stop=stop.is_set)
        force_update()

    task = solara.lab.use_task(run, dependencies=None, raise_error=False)
    with solara.Column(gap="4px", classes=["synsim-view", "synsim-run-panel"]):
        Html(run_html(run_info(model)))
        if not can_forward:
            return
        solara.InputInt("fast-forward steps (vectorised backend)", value=n_steps, disabled=task.pending)
        with solara.Row():
            solara.Button(
                "Fast-forward", color="primary", on_click=task, disabled=task.pending or not (n_steps.value or 0) > 0
            )
            if task.pending:
                solara.Button("Stop", on_click=stop.set, classes=["synsim-stop"])
        if task.pending:
            done, total = progress.value
            solara.ProgressLinear(value=100 * done / total if total else True)
            Html(f'<div class="synsim-note synsim-ff-progress">fast-forwarding: {done} / {total} steps</div>')
        elif task.error:
            solara.Error(f"fast-forward failed: {task.exception}")
        Html(
            '<div class="synsim-note">runs the steps in the vectorised backend from the agents\' state, then loads '
            "its state into the agents: the steps the agents would take, bit for bit, in a fraction of the time</div>"
        )
