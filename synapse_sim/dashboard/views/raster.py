"""2. The action raster: synapses x recent steps, the broadcast's sign on top.

Every synapse gets a row of its own up to :data:`MAX_SYNAPSE_ROWS` (the page scrolls, so each
row is at least one screen pixel); a larger network is drawn as an explicit aggregate, one row
per post-neuron, its colour the mix of the action colours in the fractions of that neuron's
incoming synapses. A history longer than :data:`MAX_COLUMNS` steps is binned the same way: a
column per bin of consecutive steps, coloured by the fractions of actions in it; no step is
dropped. A cell with one synapse and one step is exactly its action's colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import ACTION_RGB, NO_DATA_RGB, REWARD_HEX, hex_rgb, png

MAX_SYNAPSE_ROWS = 1024
MAX_COLUMNS = 400
REWARD_RGB = np.array([hex_rgb(REWARD_HEX[r]) for r in (-1, 0, 1)], dtype=np.float64)


@dataclass
class RasterData:
    sids: np.ndarray  # the synapses of the rows (aggregate: every synapse, rows by post-neuron)
    steps: np.ndarray  # recorded step numbers, oldest first
    actions: np.ndarray  # (len(sids), len(steps)) int8: 0 dec, 1 keep, 2 inc (or the weight change's sign + 1)
    rewards: np.ndarray  # (len(steps),) int8: the sign of the broadcast (synaptic RL: the reward itself)
    length: int  # steps the picture spans (the model's raster_length)
    groups: np.ndarray | None = None  # aggregate: each sid's row (its post-neuron); None: a row per synapse
    labels: tuple[str, ...] = ()  # each row's name: "sid 17", or "layer 1 neuron 3 (785 synapses)"

    @property
    def aggregate(self) -> bool:
        return self.groups is not None

    @property
    def n_rows(self) -> int:
        return len(self.labels)

    @property
    def bin_size(self) -> int:
        """Steps per column (1 unless the history is longer than :data:`MAX_COLUMNS`)."""
        return max(1, -(-self.length // MAX_COLUMNS))


def post_neuron_rows(topology) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each synapse's row in the aggregate (its post-neuron, layer by layer) and the rows' names."""
    starts = np.concatenate([[0], np.cumsum(topology.layer_sizes[1:])])
    groups = starts[topology.layer.astype(np.int64)] + topology.col
    fan_in = np.bincount(groups)
    labels = tuple(
        f"layer {layer + 1} neuron {j} ({fan_in[starts[layer] + j]} synapses)"
        for layer, size in enumerate(topology.layer_sizes[1:])
        for j in range(size)
    )
    return groups, labels


def raster_data(model) -> RasterData:
    n = model.topology.n_synapses
    log, rewards = list(model.action_log), list(model.reward_log)  # snapshots (see synapse_info)
    k = min(len(log), len(rewards))
    log, rewards = log[len(log) - k :], rewards[len(rewards) - k :]
    length = model.action_log.maxlen or max(k, 1)
    sids = np.arange(n)
    actions = np.stack(log, axis=1) if k else np.zeros((n, 0), dtype=np.int8)
    steps = np.arange(model.steps - k + 1, model.steps + 1)
    signs = np.sign(np.nan_to_num(np.asarray(rewards, dtype=np.float64))).astype(np.int8)
    if n <= MAX_SYNAPSE_ROWS:
        return RasterData(sids, steps, actions, signs, length, None, tuple(f"sid {s}" for s in sids))
    groups, labels = post_neuron_rows(model.topology)
    return RasterData(sids, steps, actions, signs, length, groups, labels)


def action_fractions(data: RasterData) -> np.ndarray:
    """(rows, columns, 3): the share of each action in each cell (a row's synapses x a column's steps);
    columns with no recorded step are all 0."""
    columns = -(-data.length // data.bin_size)
    out = np.zeros((data.n_rows, columns, 3))
    n = data.actions.shape[1]
    if not n:
        return out
    first = columns - -(-n // data.bin_size)  # the newest step fills the last column
    for a in range(3):
        counts = (data.actions == a).astype(np.float64)
        if data.aggregate:
            counts = np.add.reduceat(counts[np.argsort(data.groups, kind="stable")], _starts(data.groups), axis=0)
        out[:, first:, a] = _bin_columns(counts, data.bin_size)
    totals = out.sum(axis=2, keepdims=True)
    return np.divide(out, totals, out=np.zeros_like(out), where=totals > 0)


def _starts(groups: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(groups))[:-1]])


def _bin_columns(counts: np.ndarray, size: int) -> np.ndarray:
    """Sum consecutive steps in bins of ``size``, the bins aligned to the newest step."""
    if size == 1:
        return counts
    pad = -counts.shape[1] % size
    padded = np.concatenate([np.zeros((counts.shape[0], pad)), counts], axis=1)
    return padded.reshape(counts.shape[0], -1, size).sum(axis=2)


def reward_fractions(data: RasterData) -> np.ndarray:
    """(columns, 3): the share of broadcast signs -1 / 0 / +1 in each column."""
    columns = -(-data.length // data.bin_size)
    out = np.zeros((columns, 3))
    n = data.rewards.size
    if n:
        first = columns - -(-n // data.bin_size)
        signs = np.stack([(data.rewards == r) for r in (-1, 0, 1)]).astype(np.float64)
        binned = _bin_columns(signs, data.bin_size)
        out[first:] = (binned / binned.sum(axis=0, keepdims=True)).T
    return out


def raster_rgb(data: RasterData) -> np.ndarray:
    """Rows: the broadcast strip, a gap, then one row per synapse (or post-neuron); columns: steps
    (or bins), newest right; cells without data in the no-data colour."""
    strip = max(3, data.n_rows // 40)
    gap = max(1, strip // 2)
    fractions = action_fractions(data)
    image = np.empty((strip + gap + data.n_rows, fractions.shape[1], 3), dtype=np.uint8)
    image[:] = NO_DATA_RGB
    body = fractions @ ACTION_RGB.astype(np.float64)
    filled = fractions.sum(axis=2) > 0
    image[strip + gap :][filled] = np.round(body[filled]).astype(np.uint8)
    rewards = reward_fractions(data)
    has = rewards.sum(axis=1) > 0
    image[:strip, has] = np.round(rewards[has] @ REWARD_RGB).astype(np.uint8)[None, :, :]
    image[strip : strip + gap] = 255
    return image


def raster_png(data: RasterData) -> bytes:
    """One pixel per (row, column): the browser scales it up (CSS ``image-rendering: pixelated``)."""
    return png(raster_rgb(data))


def raster_cell(data: RasterData, row: int, column: int) -> str:
    """What a cell of the picture shows, in words: its row's synapse or neuron and its steps."""
    if not 0 <= row < data.n_rows:
        return ""
    columns = -(-data.length // data.bin_size)
    newest = int(data.steps[-1]) if data.steps.size else 0
    last = newest - (columns - 1 - column) * data.bin_size
    first = last - data.bin_size + 1
    steps = f"step {last}" if data.bin_size == 1 else f"steps {first}-{last}"
    return f"{data.labels[row]}, {steps}" if last >= max(1, newest - data.steps.size + 1) else f"{data.labels[row]}"
