import itertools

import numpy as np
import pytest

from synapse_sim import Topology


@pytest.mark.parametrize("layers", [[2, 100, 1], [784, 10], [784, 32, 10], [3, 4, 5, 2]])
def test_synapse_order_matches_matrices(layers):
    topo = Topology.from_layers(layers)
    expected = sum((a + 1) * b for a, b in itertools.pairwise(layers))
    assert topo.n_synapses == expected
    flat = np.arange(topo.n_synapses, dtype=float)
    mats = topo.matrices(flat)
    for layer, mat in enumerate(mats):
        assert mat.shape == (layers[layer] + 1, layers[layer + 1])
        assert np.shares_memory(mat, flat)
    for sid in [0, 1, topo.n_synapses // 2, topo.n_synapses - 1]:
        layer, row, col = topo.layer[sid], topo.row[sid], topo.col[sid]
        assert mats[layer][row, col] == sid
        assert topo.sid(layer, row, col) == sid
        assert topo.is_bias[sid] == (row == layers[layer])


def test_paper_sizes():
    assert Topology.from_layers([784, 10]).n_synapses == 7850
    assert Topology.from_layers([784, 32, 10]).n_synapses == 25450


def test_graph_has_neurons_and_one_edge_per_synapse():
    topo = Topology.from_layers([2, 3, 1])
    g = topo.graph()
    assert g.number_of_edges() == topo.n_synapses
    kinds = {d["kind"] for _, d in g.nodes(data=True)}
    assert kinds == {"input", "hidden", "output", "bias"}
    assert g.nodes[(0, 2)]["kind"] == "bias" and g.nodes[(2, 0)]["kind"] == "output"
    sids = sorted(d["sid"] for *_, d in g.edges(data=True))
    assert sids == list(range(topo.n_synapses))
    assert g.edges[(0, 2), (1, 0)]["sid"] == topo.sid(0, 2, 0)


def test_bad_layers():
    with pytest.raises(ValueError, match="at least two positive sizes"):
        Topology.from_layers([5])
    with pytest.raises(ValueError, match="at least two positive sizes"):
        Topology.from_layers([2, 0, 1])
