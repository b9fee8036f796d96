"""Figures a person would rather look at than read: boundaries and learning curves.

Figures are built on :class:`matplotlib.figure.Figure`, never through pyplot, so this module
leaves the user's backend alone (a notebook keeps its inline backend, a script its own) and a
figure written to PNG needs no GUI. In Jupyter a returned figure shows when it is a cell's
last value or is passed to ``display``.
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

BOUNDARY_CMAP = ListedColormap(["#f4d6cc", "#c9dcf2"])
ACTION_CMAP = ListedColormap(["#d7301f", "#a9a9a9", "#2b8cbe"])  # decrement, keep, increment: every view


def plot_boundary(ax, task, weights, which: str = "learned", resolution: int = 200):
    """Shade a decision-boundary task's plane by the target's or the student's labels."""
    axis, student, target = task.predict_grid(weights, resolution)
    labels = target if which == "target" else student
    extent = (axis[0], axis[-1], axis[0], axis[-1])
    ax.imshow(labels, origin="lower", extent=extent, cmap=BOUNDARY_CMAP, vmin=0, vmax=1, interpolation="nearest")
    ax.contour(axis, axis, target.astype(float), levels=[0.5], colors="k", linewidths=0.8)
    ax.set_title("target boundary" if which == "target" else "learned boundary (target line in black)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    return ax


def plot_curve(ax, steps, values, label: str, smooth: int = 0, **kwargs):
    values = np.asarray(values, dtype=float)
    ax.plot(steps, values, alpha=0.35 if smooth else 1.0, lw=0.8, label=None if smooth else label, **kwargs)
    if smooth and values.size > smooth:
        kernel = np.ones(smooth) / smooth
        ax.plot(steps[smooth - 1 :], np.convolve(values, kernel, mode="valid"), lw=1.4, label=label, **kwargs)
    ax.set_xlabel("iteration")
    return ax


def figure_decision_boundary(task, weights, history: dict, title: str = ""):
    """Fig. 1-style: target boundary, learned boundary, loss and accuracy per iteration."""
    fig = Figure(figsize=(10, 8.5))
    axes = fig.subplots(2, 2)
    plot_boundary(axes[0, 0], task, weights, "target")
    plot_boundary(axes[0, 1], task, weights, "learned")
    steps = history["step"]
    plot_curve(axes[1, 0], steps, history["loss"], "training loss")
    axes[1, 0].set_ylabel("mean Euclidean loss")
    axes[1, 0].set_yscale("log")
    plot_curve(axes[1, 1], steps, history["accuracy"], "accuracy")
    axes[1, 1].set_ylabel("accuracy")
    axes[1, 1].axhline(0.95, color="grey", ls=":", lw=0.8)
    for label, ax in zip("ABCD", axes.ravel(), strict=True):
        ax.text(-0.12, 1.04, label, transform=ax.transAxes, fontweight="bold")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def figure_curves(history: dict, title: str = ""):
    """Loss, accuracy (training and held-out) and the action mix per iteration."""
    fig = Figure(figsize=(15, 4.2))
    axes = fig.subplots(1, 3)
    steps = history["step"]
    smooth = max(1, len(steps) // 200)
    plot_curve(axes[0], steps, history["loss"], "training (minibatch)", smooth=smooth if smooth > 1 else 0)
    plot_curve(axes[1], steps, history["accuracy"], "training (minibatch)", smooth=smooth if smooth > 1 else 0)
    if len(history.get("validation_step", [])):
        axes[0].plot(history["validation_step"], history["validation_loss"], "o-", ms=2, label="validation")
        axes[1].plot(history["validation_step"], history["validation_accuracy"], "o-", ms=2, label="validation")
    axes[0].set_ylabel("loss")
    axes[1].set_ylabel("accuracy")
    for name, color in zip(("decrement", "keep", "increment"), ACTION_CMAP.colors, strict=True):
        plot_curve(
            axes[2],
            steps,
            history[name],
            name,
            smooth=smooth if smooth > 1 else 0,
            color=color if name != "keep" else "#888888",
        )
    axes[2].set_ylabel("fraction of synapses")
    for ax, where in zip(axes, ("upper right", "lower right", "center right"), strict=True):
        ax.legend(fontsize=8, loc=where)  # a fixed place: "best" searches every point of long runs
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def png_bytes(fig, dpi: int = 110) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
