"""5. The task: target vs learned decision boundary, or validation images with predicted letters."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ...tasks import ClassificationTask, DecisionBoundaryTask
from ...tasks.base import mlp_forward
from .common import BOUNDARY_RGB, data_uri, image_shape, png, upscale


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
    names: str  # one character per class: "ABCDEFGHIJ" for notMNIST, "0123456789" for the digits
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
    names = "".join(name[:1] for name in task.class_names)
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
