"""2. The action raster: synapses x recent steps, the broadcast's sign on top."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import ACTION_RGB, REWARD_HEX, hex_rgb, png


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
