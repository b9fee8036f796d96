"""6. One synapse: its weight, memory, state, action history and weight trace."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

from .. import rule_views
from .common import ACTION_RGB, NO_DATA_RGB, data_uri, fmt, png, upscale


@dataclass
class SynapseInfo:
    sid: int
    layer: int
    pre: tuple[int, int]
    post: tuple[int, int]
    pre_kind: str
    post_kind: str
    is_bias: bool
    weight: float
    memory: dict  # the weight and the agent's memory (synaptic RL: actions, rewards, streak, state, state_words)
    action: int | None  # synaptic RL: the action; other rules: the sign of the weight change + 1
    greedy: int | None  # synaptic RL only: the greedy action in the synapse's state
    q_row: np.ndarray | None  # synaptic RL only: the Q values of its state
    history: np.ndarray  # its actions (or weight change signs + 1) over the raster window, oldest first
    weights: np.ndarray  # its weight after each step of ``steps``, oldest first
    steps: np.ndarray
    rule: str = "synaptic_rl"
    discrete: bool = True
    memory_rows: list[tuple[str, str]] = field(default_factory=list)  # other rules: each memory field in words
    weight_source: str = "from the action log"


def synapse_info(model, sid: int) -> SynapseInfo:
    sid = int(np.clip(sid, 0, model.topology.n_synapses - 1))
    agent = model.synapses[sid]
    memory, rows = rule_views.synapse_memory(model, agent)
    state = memory.get("state") if not rows else None
    topology = model.topology
    log = list(model.action_log)  # a snapshot: with "Use Threads" the model may step meanwhile
    n = len(log)
    history = np.array([actions[sid] for actions in log], dtype=np.int8)
    steps = np.arange(model.steps - n + 1, model.steps + 1)
    weights, weight_steps, source = rule_views.weight_trace(model, sid, history, steps)
    return SynapseInfo(
        sid=sid,
        layer=agent.layer,
        pre=agent.pre,
        post=agent.post,
        pre_kind=topology.neuron_kind(*agent.pre),
        post_kind=topology.neuron_kind(*agent.post),
        is_bias=agent.is_bias,
        weight=float(agent.weight),
        memory=memory,
        action=agent.action,
        greedy=int(model.rule.policy.greedy[state]) if state is not None else None,
        q_row=model.rule.policy.q[state].copy() if state is not None else None,
        history=history,
        weights=weights,
        steps=weight_steps,
        rule=model.rule.name or type(model.rule).__name__,
        discrete=rule_views.discrete(model),
        memory_rows=rows,
        weight_source=source,
    )


def sparkline_svg(values: np.ndarray, width: int = 440, height: int = 44, colour: str = "#333") -> str:
    values = np.asarray(values, dtype=np.float64)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if hi - lo < 1e-15:
        lo, hi = lo - 1e-3, hi + 1e-3
    xs = np.linspace(2, width - 2, max(values.size, 1))
    ys = 2 + (hi - values) / (hi - lo) * (height - 4)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=False))
    return (
        f'<svg class="synsim-spark" viewBox="0 0 {width} {height + 12}" width="100%" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fafafa" stroke="#ddd"/>'
        f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.2"/>'
        f'<text x="2" y="{height + 10}" font-size="9" fill="#666">min {fmt(lo)}</text>'
        f'<text x="{width - 2}" y="{height + 10}" font-size="9" fill="#666" text-anchor="end">max {fmt(hi)}</text>'
        "</svg>"
    )


def action_strip_html(history: np.ndarray, length: int) -> str:
    """The synapse's actions (or weight change signs) over the window as a row of coloured cells (newest right)."""
    rgb = np.empty((1, max(length, 1), 3), dtype=np.uint8)
    rgb[:] = NO_DATA_RGB
    if history.size:
        rgb[0, -history.size :] = ACTION_RGB[history]
    return f'<img class="synsim-strip" src="{data_uri(png(upscale(rgb, 12, 3)))}" alt="action history"/>'


def synapse_html(info: SynapseInfo, length: int = 200) -> str:
    kind = "bias synapse" if info.is_bias else "synapse"
    rows = [
        ("weight", f'<b class="synsim-weight" data-weight="{info.weight!r}">{info.weight:.6g}</b>'),
        (
            "connects",
            f"{info.pre_kind} neuron {info.pre} &rarr; {info.post_kind} neuron {info.post} (layer {info.layer})",
        ),
    ]
    if info.q_row is not None:
        rows += rule_views.synaptic_rl_rows(info)
    else:
        rows += rule_views.change_and_memory_rows(info)
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    strip = rule_views.strip_caption(info.discrete, info.history.size)
    return (
        f'<div class="synsim-synapse" data-sid="{info.sid}" data-rule="{html.escape(info.rule)}">'
        f"<div><b>{kind} {info.sid}</b></div>"
        f'<table class="synsim-kv">{table}</table>'
        f"<div>{strip}</div>"
        f"{action_strip_html(info.history, length)}"
        f"<div>weight over the same steps ({html.escape(info.weight_source)}):</div>{sparkline_svg(info.weights)}</div>"
    )
