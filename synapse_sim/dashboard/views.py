"""What each dashboard view shows, built from a model without a browser.

Every view has a ``*_data(model, ...)`` function that reads the model into plain arrays
(what the tests check) and a renderer that turns that data into something a browser
shows: PNG bytes for pixel pictures (rasters, boundaries, weight images), SVG or HTML
strings for charts and tables. The renderers avoid matplotlib on purpose: a live view
redraws after every step, and numpy -> PNG / string -> SVG take about a millisecond
where a matplotlib figure takes tens.
"""

from __future__ import annotations

import base64
import html
import io
import math
import weakref
from dataclasses import dataclass, field

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from PIL import Image

from ..plots import ACTION_CMAP, BOUNDARY_CMAP
from ..rules.synaptic_rl.features import ACTION_NAMES
from ..tasks import ClassificationTask, DecisionBoundaryTask
from ..tasks.base import mlp_forward
from . import rule_views

ACTION_WORDS = ("decrement", "keep", "increment")
ACTION_HEX = tuple(ACTION_CMAP.colors)  # raster colours, as in the static plots
NETWORK_ACTION_HEX = (ACTION_HEX[0], "#a9a9a9", ACTION_HEX[2])  # keep in grey: visible on white
ACTION_RGB = np.array([[round(255 * c) for c in to_rgb(h)] for h in ACTION_HEX], dtype=np.uint8)
REWARD_HEX = {1: "#1a9850", -1: "#404040", 0: "#ffffff"}
BOUNDARY_RGB = np.array([[round(255 * c) for c in to_rgb(h)] for h in BOUNDARY_CMAP.colors], dtype=np.uint8)
NODE_HEX = {"input": "#525252", "hidden": "#737373", "output": "#000000", "bias": "#e6ab02"}
WEIGHT_CMAP = colormaps["RdBu_r"]
LETTERS = "ABCDEFGHIJ"
# more synapses than this, or a layer wider than MAX_DRAWN_LAYER, and the network is drawn as weight images
MAX_DRAWN_SYNAPSES = 3000
MAX_DRAWN_LAYER = 200


# --- small helpers --------------------------------------------------------------------------------------------
def png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an (h, w, 3) uint8 image (fast compression: these images change every step)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def upscale(rgb: np.ndarray, sy: int, sx: int | None = None) -> np.ndarray:
    sx = sy if sx is None else sx
    return np.repeat(np.repeat(rgb, sy, axis=0), sx, axis=1)


def hex_rgb(value: str) -> np.ndarray:
    return np.array([round(255 * c) for c in to_rgb(value)], dtype=np.uint8)


def diverging_rgb(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Blue (negative) - white (0) - red (positive), symmetric around 0, as uint8 RGB."""
    values = np.asarray(values, dtype=np.float64)
    scale = float(np.max(np.abs(values))) if scale is None and values.size else scale
    scale = scale if scale and np.isfinite(scale) and scale > 0 else 1.0
    rgba = WEIGHT_CMAP(np.clip(0.5 + 0.5 * values / scale, 0.0, 1.0))
    return np.round(rgba[..., :3] * 255).astype(np.uint8)


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    value = float(value)
    if not np.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def image_shape(n: int) -> tuple[int, int]:
    """(h, w) to show n input pixels as a picture: a square when n is one (784 -> 28 x 28)."""
    side = math.isqrt(n)
    if side * side == n:
        return side, side
    width = math.ceil(math.sqrt(n))
    return math.ceil(n / width), width


def to_image(vector: np.ndarray, shape: tuple[int, int], fill=0):
    out = np.full(shape[0] * shape[1], fill, dtype=vector.dtype)
    out[: vector.size] = vector
    return out.reshape(shape)


def digits(actions: np.ndarray) -> str:
    """Actions 0 / 1 / 2 as one string of digits (cheap to pass to the browser)."""
    return (np.asarray(actions, dtype=np.uint8) + ord("0")).tobytes().decode("ascii")


def joined(values: np.ndarray, decimals: int = 2) -> str:
    return ",".join(f"{v:.{decimals}f}".rstrip("0").rstrip(".") for v in np.asarray(values, dtype=np.float64))


def current_actions(model) -> np.ndarray:
    """Each synapse's action at the last step, in sid order (keep before the first step)."""
    if model.action_log:
        return np.asarray(model.action_log[-1], dtype=np.int8)
    return np.ones(model.topology.n_synapses, dtype=np.int8)


# --- status -----------------------------------------------------------------------------------------------------
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
    for problem in s.problems:
        text += f'<div class="synsim-problem">&#9888; {html.escape(problem)}</div>'
    return text


# --- 1. the network ---------------------------------------------------------------------------------------------
def is_large(topology) -> bool:
    return topology.n_synapses > MAX_DRAWN_SYNAPSES or max(topology.layer_sizes) > MAX_DRAWN_LAYER


def network_layout(graph, width: float = 600.0, height: float = 300.0, margin: float = 12.0) -> dict:
    """Neuron positions: one column per layer (inputs left), neurons top to bottom, bias unit last."""
    layers: dict[int, list] = {}
    for node, attrs in graph.nodes(data=True):
        layers.setdefault(attrs["layer"], []).append(node)
    n_layers = len(layers)
    positions = {}
    for layer, nodes in layers.items():
        nodes.sort(key=lambda n: graph.nodes[n]["index"])
        x = margin + (width - 2 * margin) * (layer / max(n_layers - 1, 1))
        spacing = (height - 2 * margin) / len(nodes)
        for i, node in enumerate(nodes):
            positions[node] = (round(x, 2), round(margin + spacing * (i + 0.5), 2))
    return positions


@dataclass
class NetworkGeometry:
    width: float
    height: float
    nodes: list[dict]
    edges: np.ndarray  # (n_synapses, 4): x1, y1, x2, y2 in sid order

    def to_json(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "nodes": self.nodes,
            "edges": np.round(self.edges, 2).tolist(),
        }


def network_geometry(graph, width: float = 600.0, height: float = 300.0) -> NetworkGeometry:
    positions = network_layout(graph, width, height)
    n_edges = graph.number_of_edges()
    edges = np.zeros((n_edges, 4))
    for pre, post, attrs in graph.edges(data=True):
        edges[attrs["sid"]] = (*positions[pre], *positions[post])
    largest = max(sum(1 for n in graph.nodes if n[0] == layer) for layer in {n[0] for n in graph.nodes})
    radius = float(np.clip((height - 28) / largest / 2.6, 1.2, 6.0))
    nodes = [
        {
            "x": positions[node][0],
            "y": positions[node][1],
            "r": radius * (1.3 if attrs["kind"] == "bias" else 1.0),
            "color": NODE_HEX[attrs["kind"]],
            "label": f"{attrs['kind']} neuron {node}" if attrs["kind"] != "bias" else f"bias unit of layer {node[0]}",
        }
        for node, attrs in graph.nodes(data=True)
    ]
    return NetworkGeometry(width, height, nodes, edges)


@dataclass
class NetworkState:
    actions: np.ndarray  # int8, sid order
    weights: np.ndarray
    widths: np.ndarray  # stroke widths, growing with |weight|


def network_state(model, min_width: float = 0.3, max_width: float = 3.5) -> NetworkState:
    weights = np.asarray(model.weight_vector(), dtype=np.float64)
    magnitude = np.abs(weights)
    top = float(magnitude.max()) if magnitude.size else 0.0
    widths = min_width + (max_width - min_width) * (magnitude / top if top > 0 else magnitude)
    return NetworkState(current_actions(model), weights, widths)


@dataclass
class WeightImages:
    """A large network as pictures: for each neuron of the first weight layer, its incoming
    weights and its synapses' current actions laid out like the input (28 x 28 for notMNIST),
    and each later layer's weight and action matrices."""

    shape: tuple[int, int]
    weights: np.ndarray  # (n_post, h, w)
    actions: np.ndarray  # (n_post, h, w)
    bias_weights: np.ndarray  # (n_post,)
    later: list[tuple[np.ndarray, np.ndarray]]  # per later layer: (weights (n_in+1, n_out), actions)


def weight_images(model) -> WeightImages:
    topology = model.topology
    weights = topology.matrices(np.asarray(model.weight_vector(), dtype=np.float64))
    actions = topology.matrices(current_actions(model))
    first_w, first_a = weights[0], actions[0]
    n_in, n_post = first_w.shape[0] - 1, first_w.shape[1]
    shape = image_shape(n_in)
    w_img = np.stack([to_image(first_w[:-1, j], shape, np.nan) for j in range(n_post)])
    a_img = np.stack([to_image(first_a[:-1, j].astype(np.int8), shape, -1) for j in range(n_post)])
    later = [(w, a) for w, a in zip(weights[1:], actions[1:], strict=True)]
    return WeightImages(shape, w_img, a_img, first_w[-1].copy(), later)


def _action_rgb(actions: np.ndarray) -> np.ndarray:
    rgb = ACTION_RGB[np.clip(actions, 0, 2)]
    rgb[actions < 0] = 255
    return rgb


def weight_images_png(data: WeightImages, columns: int | None = None, scale: int = 3) -> bytes:
    """Tiles [incoming weights | current actions] per neuron, then each later layer's matrices."""
    h, w = data.shape
    n_post = data.weights.shape[0]
    columns = columns or min(n_post, max(5, math.ceil(math.sqrt(2 * n_post))))  # 10 -> 5 x 2, 32 -> 8 x 4
    rows = math.ceil(n_post / columns)
    gap = 2
    pair_w = 2 * w + 1
    canvas_w = columns * (pair_w + 3 * gap) - 3 * gap
    tiles_h = rows * (h + gap)
    scale_w = float(np.nanmax(np.abs(data.weights))) if np.isfinite(data.weights).any() else 1.0
    blocks = []
    canvas = np.full((tiles_h, canvas_w, 3), 255, dtype=np.uint8)
    for j in range(n_post):
        r, c = divmod(j, columns)
        y, x = r * (h + gap), c * (pair_w + 3 * gap)
        weights = np.nan_to_num(data.weights[j])
        rgb_w = diverging_rgb(weights, scale_w)
        rgb_w[np.isnan(data.weights[j])] = 255
        canvas[y : y + h, x : x + w] = rgb_w
        canvas[y : y + h, x + w + 1 : x + pair_w] = _action_rgb(data.actions[j])
    blocks.append(canvas)
    for w_mat, a_mat in data.later:
        block_h = w_mat.shape[0]
        block = np.full((block_h + gap, canvas_w, 3), 255, dtype=np.uint8)
        cols = w_mat.shape[1]
        block[gap:, :cols] = diverging_rgb(w_mat)
        block[gap:, cols + 1 : 2 * cols + 1] = _action_rgb(a_mat.astype(np.int8))
        blocks.append(block)
    return png(upscale(np.concatenate(blocks, axis=0), scale))


# --- 2. the action raster ---------------------------------------------------------------------------------------
def raster_sample(n_synapses: int, max_rows: int = 512) -> np.ndarray:
    """All synapse ids, or a fixed, evenly spread sample of ``max_rows`` of them (every layer represented)."""
    if n_synapses <= max_rows:
        return np.arange(n_synapses)
    return np.unique(np.linspace(0, n_synapses - 1, max_rows).round().astype(np.int64))


@dataclass
class RasterData:
    sids: np.ndarray  # rows
    steps: np.ndarray  # columns (step numbers, oldest first)
    actions: np.ndarray  # (len(sids), len(steps)) int8: 0 dec, 1 keep, 2 inc (or the weight change's sign + 1)
    rewards: np.ndarray  # (len(steps),) int8: the sign of the broadcast (synaptic RL: the reward itself)
    length: int  # columns the picture keeps (the model's raster_length)


def raster_data(model, sids: np.ndarray | None = None) -> RasterData:
    sids = raster_sample(model.topology.n_synapses) if sids is None else np.asarray(sids)
    log, rewards = list(model.action_log), list(model.reward_log)  # snapshots (see synapse_info)
    n = min(len(log), len(rewards))
    log, rewards = log[len(log) - n :], rewards[len(rewards) - n :]
    length = model.action_log.maxlen or max(n, 1)
    actions = np.stack(log, axis=1)[sids] if n else np.zeros((sids.size, 0), dtype=np.int8)
    steps = np.arange(model.steps - n + 1, model.steps + 1)
    signs = np.sign(np.nan_to_num(np.asarray(rewards, dtype=np.float64))).astype(np.int8)
    return RasterData(sids, steps, actions, signs, length)


def raster_rgb(data: RasterData) -> np.ndarray:
    """Rows: the reward strip, a white gap, then one row per synapse; columns: steps, newest right."""
    rows = data.actions.shape[0]
    strip = max(3, rows // 40)
    gap = max(1, strip // 2)
    image = np.full((strip + gap + rows, data.length, 3), 255, dtype=np.uint8)
    n = data.actions.shape[1]
    if n:
        start = data.length - n
        image[strip + gap :, start:] = ACTION_RGB[data.actions]
        reward_rgb = np.array([hex_rgb(REWARD_HEX[int(r)]) for r in (-1, 0, 1)])[data.rewards + 1]
        image[:strip, start:] = reward_rgb[None, :, :]
    return image


def raster_png(data: RasterData) -> bytes:
    """One pixel per (synapse, step): the browser scales it up (CSS ``image-rendering: pixelated``)."""
    return png(raster_rgb(data))


# --- 3. curves --------------------------------------------------------------------------------------------------
CURVES = ("loss", "accuracy", "reward", "decrement", "keep", "increment")


def curves_data(model, reward_window: int = 25) -> dict[str, np.ndarray]:
    """The DataCollector's series per step (step 0 is the initial network) and the reward's running mean."""
    series = model.datacollector.model_vars
    collected = len(series["loss"])
    n = min(len(series[name]) for name in CURVES)  # equal, unless a step is being collected right now
    data = {name: np.asarray(series[name][:n], dtype=np.float64) for name in CURVES}
    data["step"] = np.arange(n) + (model.steps - collected + 1)
    rewards = data["reward"]
    cumulative = np.concatenate([[0.0], np.cumsum(rewards)])
    window = np.minimum(np.arange(1, n + 1), reward_window)
    data["reward_mean"] = (cumulative[1:] - cumulative[np.arange(1, n + 1) - window]) / window
    return data


def _thin(n: int, max_points: int) -> np.ndarray:
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def _panel(x0, y0, w, h, title, steps, lines, ylim=None) -> str:
    """One chart: frame, y range labels, first / last step, one polyline per (values, colour)."""
    out = [f'<g class="synsim-panel" data-title="{html.escape(title)}">']
    out.append(f'<text x="{x0}" y="{y0 - 4}" font-size="11" fill="#222">{html.escape(title)}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>')
    values = np.concatenate([v for v, _, _ in lines]) if lines else np.zeros(0)
    values = values[np.isfinite(values)]
    if ylim is None:
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    else:
        lo, hi = ylim
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    if steps.size:
        s0, s1 = float(steps[0]), float(steps[-1])
        span = max(s1 - s0, 1.0)
        for v, colour, label in lines:
            xs = x0 + (steps - s0) / span * w
            ys = y0 + h - (np.clip(v, lo, hi) - lo) / (hi - lo) * h
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True) if np.isfinite(y))
            out.append(
                f'<polyline data-series="{label}" points="{points}" fill="none" stroke="{colour}" stroke-width="1.3"/>'
            )
        out.append(f'<text x="{x0}" y="{y0 + h + 11}" font-size="9" fill="#666">{int(s0)}</text>')
        out.append(f'<text x="{x0 + w}" y="{y0 + h + 11}" font-size="9" fill="#666" text-anchor="end">{int(s1)}</text>')
    out.append(f'<text x="{x0 - 3}" y="{y0 + 8}" font-size="9" fill="#666" text-anchor="end">{fmt(hi, 3)}</text>')
    out.append(f'<text x="{x0 - 3}" y="{y0 + h}" font-size="9" fill="#666" text-anchor="end">{fmt(lo, 3)}</text>')
    out.append("</g>")
    return "".join(out)


def curves_svg(
    data: dict[str, np.ndarray],
    max_points: int = 400,
    width: int = 600,
    height: int = 330,
    broadcast_label: str = "reward",
    discrete: bool = True,
) -> str:
    """Loss, accuracy, the broadcast (running mean) and the action mix per step, as one SVG.

    For a rule without discrete actions (``discrete=False``) the mix is that of the weight
    changes' signs and the broadcast's axis follows its values."""
    keep = _thin(data["step"].size, max_points)
    steps = data["step"][keep]

    def last(name):
        return data[name][-1] if data[name].size else float("nan")

    left, between, right, top, middle, bottom = 42, 40, 6, 18, 36, 16
    pw, ph = (width - left - between - right) / 2, (height - top - middle - bottom) / 2
    xs, ys = (left, left + pw + between), (top, top + ph + middle)
    mix = [(data[name][keep], NETWORK_ACTION_HEX[a], name) for a, name in enumerate(("decrement", "keep", "increment"))]
    names = ACTION_NAMES if discrete else rule_views.SIGN_WORDS
    last_mix = ", ".join(f"{names[a]} {last(name):.2f}" for a, name in enumerate(("decrement", "keep", "increment")))
    mix_title = f"action mix: {last_mix}" if discrete else f"weight change signs: {last_mix}"
    panels = [
        _panel(xs[0], ys[0], pw, ph, f"loss {fmt(last('loss'))}", steps, [(data["loss"][keep], "#333", "loss")]),
        _panel(
            xs[1],
            ys[0],
            pw,
            ph,
            f"accuracy {fmt(last('accuracy'), 3)}",
            steps,
            [(data["accuracy"][keep], "#6a3d9a", "accuracy")],
            ylim=(0.0, 1.0),
        ),
        _panel(
            xs[0],
            ys[1],
            pw,
            ph,
            f"{broadcast_label}: mean of last 25 steps {fmt(last('reward_mean'), 2 if discrete else 3)}",
            steps,
            [(data["reward_mean"][keep], REWARD_HEX[1], "reward_mean")],
            ylim=(-1.0, 1.0) if discrete else None,
        ),
        _panel(xs[1], ys[1], pw, ph, mix_title, steps, mix, ylim=(0.0, 1.0)),
    ]
    return (
        f'<svg class="synsim-curves" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">{"".join(panels)}</svg>'
    )


# --- 4. the policy ----------------------------------------------------------------------------------------------
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


# --- 5. the task ------------------------------------------------------------------------------------------------
@dataclass
class BoundaryData:
    axis: np.ndarray
    learned: np.ndarray  # bool (res, res), row = x2, column = x1
    target: np.ndarray


_BOUNDARY_GRIDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _boundary_grid(task: DecisionBoundaryTask, weights, resolution: int):
    """The grid of ``task.predict_grid`` and the target's labels on it, computed once per task."""
    cache = _BOUNDARY_GRIDS.setdefault(task, {})
    if resolution not in cache:
        axis, _, target = task.predict_grid(weights, resolution)
        gx, gy = np.meshgrid(axis, axis)
        cache[resolution] = (axis, np.column_stack([gx.ravel(), gy.ravel()]).astype(np.float32), target)
    return cache[resolution]


def boundary_data(model, resolution: int = 90) -> BoundaryData:
    """Target and learned labels on a grid over the data square (what ``predict_grid`` returns)."""
    task = model.task
    weights = model.weight_matrices()
    axis, grid, target = _boundary_grid(task, weights, resolution)
    # float32 on the grid: a picture needs no more, and tanh in float32 is several times faster
    student, _ = mlp_forward(grid, [w.astype(np.float32) for w in weights], task.hidden_activation)
    return BoundaryData(axis, (student[:, 0] > 0).reshape(target.shape), target)


def boundary_png(data: BoundaryData, scale: int = 1) -> bytes:
    """Target (left) and learned (right) labels over the data square; the target boundary in black on both."""

    def panel(labels):
        rgb = BOUNDARY_RGB[labels.astype(np.int64)][::-1]  # row 0 at the top: x2 grows upwards
        edge = np.zeros(labels.shape, dtype=bool)
        t = data.target
        edge[:, 1:] |= t[:, 1:] != t[:, :-1]
        edge[1:, :] |= t[1:, :] != t[:-1, :]
        rgb[edge[::-1]] = 0
        return upscale(rgb, scale)

    left, right = panel(data.target), panel(data.learned)
    gap = np.full((left.shape[0], max(2, left.shape[1] // 25), 3), 255, dtype=np.uint8)
    return png(np.concatenate([left, gap, right], axis=1))


@dataclass
class LettersData:
    images: np.ndarray  # (n, h, w) in [0, 1]
    true: np.ndarray
    predicted: np.ndarray
    names: str  # class names, "ABCDEFGHIJ" for notMNIST
    validation_accuracy: float


def sample_indices(n_total: int, n: int) -> np.ndarray:
    return np.unique(np.linspace(0, n_total - 1, min(n, n_total)).round().astype(np.int64))


def letters_data(model, n: int = 12) -> LettersData:
    task: ClassificationTask = model.task
    index = sample_indices(task.y_val.size, n)
    weights = model.weight_matrices()
    x = task.x_val[index]
    predicted = task.predict(weights, x)
    images = x.reshape(len(index), *image_shape(x.shape[1])) if x.shape[1] == np.prod(image_shape(x.shape[1])) else x
    lo, hi = float(task.x_val.min()), float(task.x_val.max())
    images = (images - lo) / (hi - lo) if hi > lo else images * 0
    names = LETTERS if task.n_classes <= len(LETTERS) else "".join(str(i % 10) for i in range(task.n_classes))
    accuracy = task.validate(weights).get("accuracy", float("nan"))
    return LettersData(images, task.y_val[index], predicted, names, float(accuracy))


def letters_html(data: LettersData, scale: int = 2) -> str:
    tiles = []
    for image, true, predicted in zip(data.images, data.true, data.predicted, strict=True):
        grey = np.round((1.0 - np.clip(image, 0, 1)) * 255).astype(np.uint8)
        rgb = upscale(np.repeat(grey[..., None], 3, axis=2), scale) if grey.ndim == 2 else grey
        ok = int(true) == int(predicted)
        tiles.append(
            f'<figure class="synsim-letter" data-true="{int(true)}" data-predicted="{int(predicted)}">'
            f'<img src="{data_uri(png(rgb))}" alt="validation image"/>'
            f'<figcaption style="color:{"#1a9850" if ok else "#d7301f"}">{data.names[int(predicted)]}'
            f'<span class="synsim-true"> ({data.names[int(true)]})</span></figcaption></figure>'
        )
    return (
        f'<div class="synsim-letters-head">validation accuracy {data.validation_accuracy:.3f}; '
        "predicted letter under each image (true letter in brackets; green right, red wrong)</div>"
        f'<div class="synsim-letters">{"".join(tiles)}</div>'
    )


def task_kind(model) -> str:
    if isinstance(model.task, DecisionBoundaryTask):
        return "decision_boundary"
    if isinstance(model.task, ClassificationTask):
        return "classification"
    return "other"


# --- 6. one synapse ---------------------------------------------------------------------------------------------
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
    rgb = np.full((1, max(length, 1), 3), 255, dtype=np.uint8)
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
