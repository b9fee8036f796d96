"""Helpers and colours shared by the views: PNG and colour conversions, number formats."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from PIL import Image

from ...plots import ACTION_CMAP, BOUNDARY_CMAP
from ...tasks.data import LETTERS  # noqa: F401 (re-exported: the notMNIST class names)

ACTION_WORDS = ("decrement", "keep", "increment")
ACTION_HEX = tuple(ACTION_CMAP.colors)  # one colour per action in every view and the static plots
ACTION_RGB = np.array([[round(255 * c) for c in to_rgb(h)] for h in ACTION_HEX], dtype=np.uint8)
NO_DATA_HEX = "#ffffff"  # a cell with nothing recorded yet: distinct from every action's colour
NO_DATA_RGB = np.array([round(255 * c) for c in to_rgb(NO_DATA_HEX)], dtype=np.uint8)
REWARD_HEX = {1: "#1a9850", -1: "#404040", 0: "#d9d9d9"}
BOUNDARY_RGB = np.array([[round(255 * c) for c in to_rgb(h)] for h in BOUNDARY_CMAP.colors], dtype=np.uint8)
NODE_HEX = {"input": "#525252", "hidden": "#737373", "output": "#000000", "bias": "#e6ab02"}
WEIGHT_CMAP = colormaps["RdBu_r"]
# more synapses than this, or a layer wider than MAX_DRAWN_LAYER, and the network is drawn as weight images
MAX_DRAWN_SYNAPSES = 3000
MAX_DRAWN_LAYER = 200


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
