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


def test_xavier_normal_initial_weights_have_each_layers_scale_and_both_views_start_from_them():
    """``network.init = "xavier_normal"`` (the NRL spec's): std sqrt(2 / (n_in + n_out)) per layer, biases 0,
    the same draw for a seed, and the agent view starts from the same weights as the vectorised one."""
    from synapse_sim import Scenario, VectorEngine
    from synapse_sim.engine.simulation import scenario_initial_weights
    from synapse_sim.model import SynapseModel
    from synapse_sim.scenario import ScenarioError

    scenario = Scenario().with_overrides({"init": "xavier_normal", "init_range": 5.0})
    topology = Topology.from_layers([300, 100, 10])
    w = scenario_initial_weights(scenario, topology)
    assert np.all(w[topology.is_bias] == 0)
    for layer, (n_in, n_out) in enumerate(itertools.pairwise(topology.layer_sizes)):
        weights = w[(topology.layer == layer) & ~topology.is_bias]
        assert weights.std() == pytest.approx(np.sqrt(2 / (n_in + n_out)), rel=0.05)
        assert abs(weights.mean()) < 0.1 * weights.std() and np.abs(weights).max() > 2 * weights.std()
    assert np.array_equal(w, scenario_initial_weights(scenario, topology))
    uniform = scenario_initial_weights(scenario.with_overrides({"init": "uniform"}), topology)
    assert np.abs(uniform).max() > 4.0  # init_range is used by the uniform draw only

    small = Scenario().with_overrides({"layers": [2, 6, 1], "init": "xavier_normal", "run.seed": 4})
    assert np.array_equal(SynapseModel(small).weight_vector(), VectorEngine(small).simulation.initial_weights())
    with pytest.raises(ScenarioError, match=r"'network\.init' = 'glorot'"):
        Scenario().with_overrides({"init": "glorot"})
    # at init_range 0 a gradient-descent net with hidden layers is refused only where the range is used
    Scenario().with_overrides({"run.method": "gradient_descent", "init": "xavier_normal", "init_range": 0.0})
