"""4. The policy: the shared Q table as pictures beside the states in words."""

from __future__ import annotations

import html
from dataclasses import dataclass

import numpy as np

from ...rules.synaptic_rl.features import ACTION_NAMES
from .common import diverging_rgb, png, upscale


@dataclass
class PolicyData:
    q: np.ndarray  # (n_states, 3)
    greedy: np.ndarray  # (n_states,)
    labels: list[str]  # the states in words, "dec, keep | -, +"
    occupancy: np.ndarray  # synapses in each state now
    adaptive: bool


def policy_data(model) -> PolicyData:
    policy = model.rule.policy
    states = np.array([agent.memory["state"] for agent in model.synapses], dtype=np.int64)
    n = policy.q.shape[0]
    occupancy = np.bincount(np.asarray(states, dtype=np.int64), minlength=n) if states is not None else np.zeros(n)
    return PolicyData(
        policy.q.copy(), policy.greedy.copy(), model.rule.state_space.labels(), occupancy, policy.adaptive
    )


Q_CELL = (12, 22)  # (height, width) of one Q cell in pixels; the state labels use the same row height
Q_BAR = 36  # width of the occupancy bar column
Q_ROWS = 27  # states per block (the paper's 81 states: three blocks side by side)


def policy_scale(q: np.ndarray) -> float:
    scale = float(np.max(np.abs(q))) if q.size else 0.0
    return scale if scale > 0 and np.isfinite(scale) else 1.0


def policy_blocks(n_states: int, rows: int = Q_ROWS) -> list[tuple[int, int]]:
    return [(start, min(start + rows, n_states)) for start in range(0, n_states, rows)]


def policy_rgb(data: PolicyData, start: int, stop: int) -> np.ndarray:
    """States ``start:stop`` as an image: one cell per (state, action) coloured by Q (blue < 0 < red),
    a dot on the greedy action, then a grey bar: the share of synapses in that state now."""
    h, w = Q_CELL
    rows = stop - start
    q = data.q[start:stop]
    cells = upscale(diverging_rgb(q, policy_scale(data.q)), h, w)
    cells[::h] = 255  # white lines between the cells
    cells[:, ::w] = 255
    ys = np.arange(rows) * h + h // 2
    xs = data.greedy[start:stop].astype(np.int64) * w + w // 2
    for dy in range(-3, 3):
        for dx in range(-3, 3):
            cells[ys + dy, xs + dx] = 255  # white ring ...
    for dy in range(-2, 2):
        for dx in range(-2, 2):
            cells[ys + dy, xs + dx] = 0  # ... around a black dot: visible on any colour
    bar = np.full((rows * h, Q_BAR + 4, 3), 255, dtype=np.uint8)
    top = max(float(data.occupancy.max()), 1.0) if data.occupancy.size else 1.0
    lengths = np.round(Q_BAR * data.occupancy[start:stop] / top).astype(np.int64)
    for r, length in enumerate(lengths):
        bar[r * h + 2 : (r + 1) * h - 2, 4 : 4 + length] = 140
    return np.concatenate([cells, bar], axis=1)


def policy_png(data: PolicyData, start: int, stop: int) -> bytes:
    return png(policy_rgb(data, start, stop))


def policy_labels_html(labels: list[str], start: int, stop: int) -> str:
    """The states in words, one per image row (static: only the state space decides them)."""
    rows = "".join(f'<div class="synsim-qrow">{html.escape(label)}</div>' for label in labels[start:stop])
    return f'<div class="synsim-qlabels"><div class="synsim-qhead">state</div>{rows}</div>'


def policy_header_html() -> str:
    w = Q_CELL[1]
    cells = "".join(
        f'<span style="display:inline-block;width:{w}px;text-align:center">{a}</span>' for a in ACTION_NAMES
    )
    return f'<div class="synsim-qhead">{cells}<span style="padding-left:6px"># now</span></div>'


def policy_legend_html(data: PolicyData) -> str:
    scale = policy_scale(data.q)
    mode = "adaptive (learning)" if data.adaptive else "static (frozen)"
    return (
        f'<div class="synsim-legend">policy {mode}; colour: Q from <span style="color:#2166ac">-{scale:.3g}</span> '
        f'to <span style="color:#b2182b">+{scale:.3g}</span>; dot: greedy action; '
        "state = last actions (newest first) | last rewards; bar: share of synapses in that state now</div>"
    )
