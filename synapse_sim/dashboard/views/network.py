"""1. The network: edge by edge (geometry + per-step state), or per neuron as weight images."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .common import (
    ACTION_RGB,
    MAX_DRAWN_LAYER,
    MAX_DRAWN_SYNAPSES,
    NODE_HEX,
    current_actions,
    diverging_rgb,
    image_shape,
    png,
    to_image,
    upscale,
)


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
    forward = [
        (pre, post, sid) for pre, post, sid in graph.edges(data="sid") if not graph.edges[pre, post].get("feedback")
    ]
    edges = np.zeros((len(forward), 4))
    for pre, post, sid in forward:  # feedback synapses (reverse edges) share their partner's line
        edges[sid] = (*positions[pre], *positions[post])
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


def shows_as_images(topology) -> bool:
    """Whether the first layer's inputs make a picture (notMNIST's 28 x 28, the digits' 8 x 8); a few
    coordinates or observations (the decision boundary's 2, a control task's 4-6) do not."""
    h, w = image_shape(topology.layer_sizes[0])
    return min(h, w) >= 4


@dataclass
class WeightMatrices:
    """A large network whose inputs are not a picture: each layer's weight and action matrices,
    the longer side down (``transposed``: rows are the layer's post neurons, else its inputs + bias)."""

    weights: list[np.ndarray]
    actions: list[np.ndarray]
    transposed: list[bool]


def weight_matrices(model) -> WeightMatrices:
    topology = model.topology
    weights = topology.matrices(np.asarray(model.weight_vector(), dtype=np.float64))
    actions = topology.matrices(current_actions(model))
    flip = [w.shape[1] > w.shape[0] for w in weights]
    return WeightMatrices(
        [w.T if f else w for w, f in zip(weights, flip, strict=True)],
        [a.T.astype(np.int8) if f else a.astype(np.int8) for a, f in zip(actions, flip, strict=True)],
        flip,
    )


MATRIX_CELL = (2, 10)  # (height, width) of one cell in pixels: every neuron at least a screen row


def weight_matrices_png(data: WeightMatrices) -> bytes:
    """Side by side, per layer: [weights | actions], one cell per synapse, a gap between layers."""
    h, w = MATRIX_CELL
    height = max(m.shape[0] for m in data.weights)
    blocks = []
    for weights, actions in zip(data.weights, data.actions, strict=True):
        pair = np.full((height, 2 * weights.shape[1] + 1, 3), 255, dtype=np.uint8)
        pair[: weights.shape[0], : weights.shape[1]] = diverging_rgb(weights)
        pair[: actions.shape[0], weights.shape[1] + 1 :] = _action_rgb(actions)
        blocks += [pair, np.full((height, 1, 3), 255, dtype=np.uint8)]
    return png(upscale(np.concatenate(blocks[:-1], axis=1), h, w))


def matrices_note(data: WeightMatrices, layer_sizes) -> str:
    """What the rows and columns of each layer's block are."""
    parts = []
    for k, flipped in enumerate(data.transposed):
        pre, post = layer_sizes[k], layer_sizes[k + 1]
        rows, columns = (
            (f"its {post} post neurons", f"the {pre} inputs + bias")
            if flipped
            else (f"the {pre} inputs + bias", f"its {post} post neurons")
        )
        parts.append(f"layer {k + 1}: rows = {rows}, columns = {columns}")
    return "; ".join(parts)
