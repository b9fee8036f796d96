"""Every view as a PNG, one click each, and a large network whose inputs are no picture drawn one cell per synapse."""

from __future__ import annotations

import io

import ipyvuetify as v
import numpy as np
import pytest
import solara
from conftest import random_classification_task
from PIL import Image

from synapse_sim.dashboard import views
from synapse_sim.dashboard.components import NetworkView, NetworkWidget, PolicyView, TaskView
from synapse_sim.dashboard.model import DashboardModel
from synapse_sim.dashboard.views.network import MATRIX_CELL


def decode(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def stepped(model, n: int):
    for _ in range(n):
        model.step()
    return model


def download_labels(rc) -> list[str]:
    return [str(b.widget.children) for b in rc.find(v.Btn) if "PNG" in str(b.widget.children)]


@pytest.fixture(scope="module")
def wide():
    """2-300-1: 1,201 synapses but a layer wider than the page draws edge by edge, and 2 inputs (no picture)."""
    return stepped(DashboardModel(hidden="300", raster_length=5), 2)


def test_a_large_network_without_picture_inputs_is_drawn_one_cell_per_synapse(wide):
    model = wide
    assert views.is_large(model.topology) and not views.shows_as_images(model.topology)
    data = views.weight_matrices(model)
    first, second = model.weight_matrices()
    assert data.transposed == [True, False]  # the longer side down: 300 neurons x 3, then 301 x 1
    np.testing.assert_array_equal(data.weights[0], first.T)
    np.testing.assert_array_equal(data.weights[1], second)
    picture = decode(views.weight_matrices_png(data))
    h, w = MATRIX_CELL
    assert picture.shape[0] == 301 * h  # every neuron (and the bias row) at least one screen row
    actions = model.topology.matrices(model.actions())[0].T  # (300 neurons, 3 inputs + bias)
    for row in range(300):
        for col in range(3):
            x = (3 + 1 + col) * w + w // 2  # the action block after the 3 weight columns and a gap
            assert tuple(picture[row * h, x]) == tuple(views.ACTION_RGB[actions[row, col]])
    _, rc = solara.render(NetworkView(model, solara.Reactive(0)), handle_error=False)
    rc.find(NetworkWidget).assert_empty()
    text = "".join(w.unsafe_innerHTML or "" for w in rc.find(solara.widgets.HTML).widgets)
    assert "one cell each" in text and "rows = its 300 post neurons" in text and "image" not in text
    assert download_labels(rc)


def test_the_network_policy_and_task_views_download_as_png(wide):
    small = stepped(DashboardModel(hidden="4", raster_length=5), 3)
    edges = decode(views.network_png(small))
    assert edges.shape[0] > 100 and len(np.unique(edges.reshape(-1, 3), axis=0)) > 3
    for colour in views.ACTION_RGB[np.unique(small.actions())]:  # each action present is drawn in its colour
        assert np.any(np.all(np.abs(edges.astype(int) - colour) <= 2, axis=2))
    assert decode(views.network_png(wide)).shape[0] == 301 * MATRIX_CELL[0]
    letters = stepped(
        DashboardModel(task=random_classification_task(n=60, batch_size=30), hidden="", raster_length=5), 1
    )
    assert np.array_equal(
        decode(views.network_png(letters)), decode(views.weight_images_png(views.weight_images(letters)))
    )

    table = decode(views.policy_table_png(views.policy_data(small)))
    assert table.shape[1] > 3 * table.shape[0] / 4  # three blocks of 27 states side by side
    assert np.array_equal(
        decode(views.task_png(small, "decision_boundary")), decode(views.boundary_png(views.boundary_data(small), 4))
    )
    assert decode(views.task_png(letters, "classification")).shape[0] > 50
    for component in (PolicyView(small), TaskView(small), NetworkView(small, solara.Reactive(0)), TaskView(letters)):
        _, rc = solara.render(component, handle_error=False)
        assert download_labels(rc)
