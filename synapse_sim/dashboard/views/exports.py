"""Every view as a PNG, one click each: the pictures the page shows, or (where the page draws in the browser:
the network's edges, the letters with their captions) a matplotlib figure of the same data."""

from __future__ import annotations

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ...plots import png_bytes
from .common import ACTION_HEX, ACTION_WORDS, WEIGHT_CMAP
from .network import (
    is_large,
    network_geometry,
    network_state,
    shows_as_images,
    weight_images,
    weight_images_png,
    weight_matrices,
    weight_matrices_png,
)
from .policy import policy_blocks, policy_scale
from .task import boundary_data, boundary_png, letters_data


def network_png(model) -> bytes:
    """Edges coloured by action, drawn by |weight|; a large network as the page shows it (images or matrices)."""
    topology = model.topology
    if is_large(topology):
        if shows_as_images(topology):
            return weight_images_png(weight_images(model))
        return weight_matrices_png(weight_matrices(model))
    geometry = network_geometry(model.graph)
    state = network_state(model)
    fig = Figure(figsize=(geometry.width / 80, geometry.height / 80))
    ax = fig.add_axes((0, 0, 1, 1))
    colours = np.array(ACTION_HEX)[np.clip(state.actions, 0, 2)]
    edges = geometry.edges.reshape(-1, 2, 2)
    ax.add_collection(LineCollection(edges, colors=colours, linewidths=0.5 + state.widths, antialiaseds=False))
    nodes = geometry.nodes
    ax.scatter(
        [n["x"] for n in nodes],
        [n["y"] for n in nodes],
        s=[(2 * n["r"]) ** 2 for n in nodes],
        c=[n["color"] for n in nodes],
        zorder=3,
    )
    ax.set_xlim(0, geometry.width)
    ax.set_ylim(geometry.height, 0)  # the page's y grows downwards
    ax.set_axis_off()
    return png_bytes(fig)


def policy_table_png(data) -> bytes:
    """The whole Q table as the page shows it: blocks of states side by side, the states in words, Q in colour
    (blue < 0 < red), a dot on the greedy action; the share of synapses in each state in the labels."""
    blocks = policy_blocks(len(data.labels))
    scale = policy_scale(data.q)
    rows = max(stop - start for start, stop in blocks)
    fig = Figure(figsize=(4.2 * len(blocks) + 1, 0.9 + 0.16 * rows), layout="constrained")
    axes = fig.subplots(1, len(blocks), squeeze=False)[0]
    share = data.occupancy / max(float(data.occupancy.sum()), 1.0)
    for ax, (start, stop) in zip(axes, blocks, strict=True):
        image = ax.imshow(data.q[start:stop], cmap=WEIGHT_CMAP, vmin=-scale, vmax=scale, aspect="auto")
        ax.scatter(data.greedy[start:stop], np.arange(stop - start), s=10, c="black", edgecolors="white")
        ax.set_xticks(range(len(ACTION_WORDS)), ACTION_WORDS, fontsize=7)
        labels = [f"{data.labels[k]}  {share[k]:.0%}" for k in range(start, stop)]
        ax.set_yticks(range(stop - start), labels, fontsize=6)
        ax.xaxis.tick_top()
    fig.colorbar(image, ax=axes.tolist(), shrink=0.6, label="Q")
    mode = "adaptive (learning)" if data.adaptive else "static (frozen)"
    fig.suptitle(f"shared Q table, {mode}; dot: greedy action; after each state: its share of synapses", fontsize=9)
    return png_bytes(fig)


def task_png(model, kind: str) -> bytes | None:
    """The decision boundary (target | learned) or the validation images with predicted and true letters."""
    if kind == "decision_boundary":
        return boundary_png(boundary_data(model), scale=4)
    if kind != "classification":
        return None
    data = letters_data(model)
    fig = Figure(figsize=(1.2 * len(data.true), 1.6))
    for k, (image, true, predicted) in enumerate(zip(data.images, data.true, data.predicted, strict=True)):
        ax = fig.add_subplot(1, len(data.true), k + 1)
        ax.imshow(image if image.ndim == 2 else image.reshape(1, -1), cmap="gray_r", vmin=0, vmax=1)
        colour = "#1a9850" if int(true) == int(predicted) else "#d7301f"
        ax.set_title(f"{data.names[int(predicted)]} ({data.names[int(true)]})", color=colour, fontsize=10)
        ax.set_axis_off()
    fig.suptitle(f"validation accuracy {data.validation_accuracy:.3f}: predicted (true)", fontsize=10)
    return png_bytes(fig)
