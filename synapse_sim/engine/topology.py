"""The layered network as a graph of neurons, and the one canonical synapse order.

Every synapse has a stable integer id ``sid``. The weights of layer ``l`` form a
matrix of shape ``(n_in + 1, n_out)`` whose last row holds the biases, so that a
forward pass is ``h @ W[:-1] + W[-1]``. Synapse ids run layer by layer through
these matrices in row-major order; the vectorised backend therefore keeps all
weights in one flat array and the per-layer matrices are views into it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from ..schema import INITS


@dataclass(frozen=True)
class Topology:
    """A fully connected feed-forward network ``layer_sizes`` (inputs first)."""

    layer_sizes: tuple[int, ...]
    layer: np.ndarray = field(repr=False)
    row: np.ndarray = field(repr=False)
    col: np.ndarray = field(repr=False)
    is_bias: np.ndarray = field(repr=False)
    offsets: tuple[int, ...] = field(repr=False)

    @classmethod
    def from_layers(cls, layer_sizes) -> Topology:
        sizes = tuple(int(s) for s in layer_sizes)
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(f"network layers must list at least two positive sizes, got {list(layer_sizes)}")
        layer, row, col, offsets = [], [], [], [0]
        for index, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            rows, cols = np.divmod(np.arange((n_in + 1) * n_out), n_out)
            layer.append(np.full(rows.size, index, dtype=np.int32))
            row.append(rows.astype(np.int32))
            col.append(cols.astype(np.int32))
            offsets.append(offsets[-1] + rows.size)
        row_all = np.concatenate(row)
        layer_all = np.concatenate(layer)
        bias_rows = np.array(sizes[:-1], dtype=np.int32)[layer_all]
        return cls(
            layer_sizes=sizes,
            layer=layer_all,
            row=row_all,
            col=np.concatenate(col),
            is_bias=row_all == bias_rows,
            offsets=tuple(offsets),
        )

    @property
    def n_synapses(self) -> int:
        return self.offsets[-1]

    @property
    def n_layers(self) -> int:
        """Number of weight layers (one fewer than neuron layers)."""
        return len(self.layer_sizes) - 1

    def matrix_shapes(self) -> list[tuple[int, int]]:
        return [(n_in + 1, n_out) for n_in, n_out in zip(self.layer_sizes, self.layer_sizes[1:], strict=False)]

    def matrices(self, flat: np.ndarray) -> list[np.ndarray]:
        """Per-layer weight matrices as views of the flat weight vector (sid order)."""
        return [
            flat[start:stop].reshape(shape)
            for start, stop, shape in zip(self.offsets[:-1], self.offsets[1:], self.matrix_shapes(), strict=True)
        ]

    def sid(self, layer: int, row: int, col: int) -> int:
        n_out = self.layer_sizes[layer + 1]
        return self.offsets[layer] + row * n_out + col

    def pre_neuron(self, sid: int) -> tuple[int, int]:
        """(neuron layer, index) of the synapse's source; index ``n`` is the bias unit."""
        return int(self.layer[sid]), int(self.row[sid])

    def post_neuron(self, sid: int) -> tuple[int, int]:
        return int(self.layer[sid]) + 1, int(self.col[sid])

    def neuron_kind(self, layer: int, index: int) -> str:
        if index == self.layer_sizes[layer]:
            return "bias"
        if layer == 0:
            return "input"
        return "output" if layer == len(self.layer_sizes) - 1 else "hidden"

    def graph(self) -> nx.DiGraph:
        """Neurons as nodes ``(layer, index)``, synapses as edges carrying ``sid``.

        Each non-output layer has a bias node at index ``layer_size``.
        """
        g = nx.DiGraph(layer_sizes=self.layer_sizes)
        for layer, size in enumerate(self.layer_sizes):
            has_bias = layer < len(self.layer_sizes) - 1
            for index in range(size + int(has_bias)):
                g.add_node((layer, index), layer=layer, index=index, kind=self.neuron_kind(layer, index))
        for sid in range(self.n_synapses):
            g.add_edge(self.pre_neuron(sid), self.post_neuron(sid), sid=sid)
        return g


def initial_weights(
    topology: Topology, rng: np.random.Generator, init_range: float, dtype, init: str = "uniform"
) -> np.ndarray:
    """Biases zero; weights uniform in ``[-init_range, init_range]`` (as the synaptic-RL authors' code), or
    with ``init = "xavier_normal"`` normal with std sqrt(2 / (n_in + n_out)) per layer (Glorot & Bengio;
    the NRL / RMHL spec's, which sets the scale by the layer's fan, so ``init_range`` is not used)."""
    if init == "uniform":
        w = rng.uniform(-init_range, init_range, topology.n_synapses).astype(dtype)
    elif init == "xavier_normal":
        sizes = np.array(topology.layer_sizes)
        std = np.sqrt(2.0 / (sizes[:-1] + sizes[1:]))
        w = (rng.standard_normal(topology.n_synapses) * std[topology.layer]).astype(dtype)
    else:
        raise ValueError(f"unknown initialisation {init!r}: expected one of {', '.join(INITS)}")
    w[topology.is_bias] = 0
    return w
