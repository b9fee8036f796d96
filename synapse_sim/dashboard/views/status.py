"""The status line: step, loss, accuracy, the rule's broadcast, the network."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from .. import rule_views
from .common import fmt


@dataclass
class Status:
    step: int
    loss: float
    accuracy: float
    rule: str
    broadcast_label: str  # what the rule broadcasts ("reward", "g = (L+ - L-) / 2c", ...)
    broadcast: float | None  # its value at the last step as one number (None before the first step)
    evaluations: int  # loss evaluations so far
    discrete: bool  # the rule's synapses choose actions (synaptic RL)
    settings: str  # the rule's main settings, HTML (synaptic RL: policy and alpha_s)
    n_synapses: int
    layers: tuple[int, ...]
    task: str
    problems: list[str] = field(default_factory=list)


def status_data(model) -> Status:
    sim = model.simulation
    result = model.last_result
    return Status(
        step=int(model.steps),
        loss=float(sim.last.loss),
        accuracy=float(sim.last.accuracy),
        rule=model.rule.name or type(model.rule).__name__,
        broadcast_label=model.rule.broadcast_label,
        broadcast=float(result.reward) if result is not None else None,
        evaluations=int(result.evaluations if result is not None else sim.evaluations),
        discrete=rule_views.discrete(model),
        settings=rule_views.settings_text(model),
        n_synapses=int(model.topology.n_synapses),
        layers=tuple(model.topology.layer_sizes),
        task=getattr(model.task, "name", type(model.task).__name__),
        problems=list(getattr(model, "problems", [])),
    )


def status_html(s: Status) -> str:
    broadcast = rule_views.broadcast_text(s.broadcast, s.discrete)
    layers = "-".join(str(n) for n in s.layers)
    text = (
        f'<div class="synsim-status" data-step="{s.step}" data-rule="{html.escape(s.rule)}">'
        f'<b>step <span class="synsim-step">{s.step}</span></b>'
        f" &middot; loss {fmt(s.loss)} &middot; accuracy {s.accuracy:.3f}"
        f" &middot; rule <b>{html.escape(s.rule)}</b>: {html.escape(s.broadcast_label)} {broadcast}"
        f" &middot; {s.evaluations} loss evaluations"
        f" &middot; {s.task} {layers} ({s.n_synapses} synapses) &middot; {s.settings}</div>"
    )
    return text


def problems_html(problems: list[str]) -> str:
    """What the controls could not use and what was used instead (the page shows it beside them)."""
    return "".join(f'<div class="synsim-problem">&#9888; {html.escape(p)}</div>' for p in problems)
