"""Cellular-automaton analysis, each checked on a constructed case whose answer is known."""

import io

import numpy as np
import pytest
from matplotlib.figure import Figure

from synapse_sim import Scenario, VectorEngine
from synapse_sim.engine.topology import Topology
from synapse_sim.model import SynapseModel
from synapse_sim.rules.synaptic_rl.state_space import StateSpace
from synapse_sim.studies.analysis import (
    action_entropy,
    action_mix,
    attractors,
    attractors_under,
    automaton_cycles,
    automaton_graph,
    automaton_step,
    damage_spreading,
    decode_memory,
    derrida,
    draw_automaton,
    encode_memory,
    flip_memory,
    flip_reward,
    greedy_from_name,
    greedy_from_number,
    group_boundaries,
    plot_action_mix,
    plot_damage,
    plot_derrida,
    plot_spacetime,
    plot_transitions,
    policy_from_rule,
    record_actions,
    rule_name,
    rule_number,
    run_automaton,
    spacetime,
    synapse_order,
    transition_matrix,
)

DEC, KEEP, INC = 0, 1, 2
MEM1 = StateSpace.paper(1)  # state = 3 * a_{t-1} + (R_{t-1} + 1): 9 states


def s1(action, reward):
    return encode_memory(MEM1, (action,), (reward,))


def rule1(choose):
    """Greedy table of a one-step-memory rule given as choose(last_action, last_reward)."""
    greedy = np.zeros(MEM1.n_states, dtype=np.int64)
    for s in range(MEM1.n_states):
        (a,), (r,) = decode_memory(MEM1, s)
        greedy[s] = choose(a, r)
    return greedy


SHIFT = {DEC: INC, KEEP: INC, INC: DEC}
WSLS = rule1(lambda a, r: a if r == 1 else SHIFT[a] if r == -1 else KEEP)  # win-stay, lose-shift
FLIP = rule1(lambda a, r: SHIFT[a])  # ignores the reward: dec <-> inc, keep -> inc


def small(**overrides):
    base = {"layers": [2, 4, 1], "n_points": 60, "run.seed": 2}
    return Scenario().with_overrides({**base, **overrides})


# --- space-time, entropy, transitions -----------------------------------------------------


def test_entropy_of_constant_field_is_zero_and_of_uniform_field_is_log2_3():
    constant = np.full((5, 12), INC)
    assert np.array_equal(action_entropy(constant), np.zeros(5))
    assert np.array_equal(action_mix(constant), np.tile([0.0, 0.0, 1.0], (5, 1)))
    uniform = np.tile(np.repeat([DEC, KEEP, INC], 4), (5, 1))
    assert np.allclose(action_entropy(uniform), np.log2(3))
    assert np.allclose(action_mix(uniform), 1 / 3)
    half = np.array([[DEC, INC, DEC, INC]])
    assert np.allclose(action_entropy(half), 1.0)


def test_transition_matrix_counts_and_probabilities():
    actions = np.array([[DEC, KEEP], [INC, KEEP], [INC, DEC]])  # synapse 0: dec->inc->inc, synapse 1: keep->keep->dec
    counts = transition_matrix(actions)
    expected = np.zeros((3, 3), dtype=int)
    expected[DEC, INC] = expected[INC, INC] = expected[KEEP, KEEP] = expected[KEEP, DEC] = 1
    assert np.array_equal(counts, expected)
    p = transition_matrix(actions, normalize=True)
    assert np.allclose(p[KEEP], [0.5, 0.5, 0.0]) and np.allclose(p[INC], [0, 0, 1])
    per = transition_matrix(actions, per_synapse=True)
    assert per.shape == (2, 3, 3) and np.array_equal(per.sum(axis=0), counts)
    assert np.isnan(transition_matrix(np.array([[INC], [INC]]), normalize=True)[DEC]).all()  # unvisited row


def test_spacetime_orders_columns_by_layer_and_by_neuron():
    topo = Topology.from_layers([2, 3, 2])
    field = np.tile(np.arange(topo.n_synapses), (4, 1))  # column value = sid
    order = synapse_order(topo, "layer")
    sorted_field = spacetime(field, order)
    assert np.array_equal(sorted_field[0], order)
    layers, bias = topo.layer[order], topo.is_bias[order]
    assert np.all(np.diff(layers) >= 0)
    for layer in range(topo.n_layers):  # within a layer, weights first, then biases
        assert np.all(np.diff(bias[layers == layer].astype(int)) >= 0)
    assert group_boundaries(topo, order, "layer").tolist() == [9]
    post = synapse_order(topo, "post")
    assert np.all(np.diff(topo.layer[post]) >= 0)
    keys = list(zip(topo.layer[post], topo.col[post], strict=True))
    assert keys == sorted(keys)  # each target neuron's fan-in is contiguous
    assert group_boundaries(topo, post, "post").tolist() == [3, 6, 9, 13]
    assert np.array_equal(synapse_order(topo, "pre"), np.arange(topo.n_synapses))
    with pytest.raises(ValueError, match="choose one of"):
        synapse_order(topo, "colour")


def test_record_actions_agrees_between_views():
    scenario = small(epsilon=0.5)
    vector_actions, vector_rewards = record_actions(VectorEngine(scenario), 12)
    model = SynapseModel(scenario, raster_length=5)
    model_actions, model_rewards = record_actions(model, 12)
    assert vector_actions.shape == (12, 17)
    assert np.array_equal(vector_actions, model_actions) and np.array_equal(vector_rewards, model_rewards)
    assert np.array_equal(np.array(model.action_log), model_actions[-5:])
    assert set(np.unique(vector_rewards)) <= {-1, 1}


# --- the synapse automaton ------------------------------------------------------------------


def test_hand_made_q_table_has_the_known_two_cycle():
    q = np.zeros((MEM1.n_states, 3))
    q[np.arange(MEM1.n_states), FLIP] = 1.0
    policy = policy_from_rule(FLIP, MEM1)
    assert np.array_equal(policy.q, q) and not policy.adaptive
    graph = automaton_graph(policy)
    assert graph.number_of_nodes() == 9 and graph.number_of_edges() == 18
    for reward in (1, -1):
        two_cycle = tuple(sorted((s1(DEC, reward), s1(INC, reward))))
        assert automaton_cycles(graph, reward) == [two_cycle]
        assert attractors(graph, reward) == [two_cycle]
    edge = graph.edges[s1(KEEP, 1), s1(INC, -1)]
    assert edge == {"reward": -1, "action": INC, "label": "inc/-"}
    assert graph.nodes[s1(KEEP, 0)]["initial"]


def test_win_stay_lose_shift_transitions_by_hand():
    assert automaton_step(WSLS, s1(INC, 1), 1, MEM1) == s1(INC, 1)  # win: stay
    assert automaton_step(WSLS, s1(INC, 1), -1, MEM1) == s1(INC, -1)
    assert automaton_step(WSLS, s1(INC, -1), 1, MEM1) == s1(DEC, 1)  # lose: shift
    assert automaton_step(WSLS, s1(KEEP, -1), -1, MEM1) == s1(INC, -1)
    # from the initial memory (keep | no reward yet): keep, +; keep, -; shift to inc, -; shift to dec, +
    visited = run_automaton(WSLS, [1, -1, -1, 1], state_space=MEM1)
    assert visited == [s1(KEEP, 0), s1(KEEP, 1), s1(KEEP, -1), s1(INC, -1), s1(DEC, 1)]
    graph = automaton_graph(WSLS, MEM1)
    assert attractors(graph, 1) == [(s1(DEC, 1),), (s1(KEEP, 1),), (s1(INC, 1),)]  # every win is a fixed point
    assert attractors(graph, -1) == [(s1(DEC, -1), s1(INC, -1))]  # losing forever: dec <-> inc
    # alternating +, -: stay, then shift: the orbit visits dec-, inc+, inc-, dec+ (4 steps, 2 periods)
    assert attractors_under(WSLS, [1, -1], MEM1) == [(s1(DEC, -1), s1(INC, 1), s1(INC, -1), s1(DEC, 1))]
    assert attractors_under(WSLS, [-1], MEM1) == [(s1(DEC, -1), s1(INC, -1))]


def test_full_automaton_needs_a_bound_and_rejects_other_state_spaces():
    graph = automaton_graph(WSLS, MEM1)
    with pytest.raises(ValueError, match="length_bound"):
        automaton_cycles(graph)
    assert (s1(INC, 1),) in automaton_cycles(graph, length_bound=1)
    assert attractors(graph) == [tuple(sorted(s1(a, r) for a in (DEC, INC) for r in (-1, 1)))]
    space = StateSpace.from_spec([{"name": "last_actions", "n": 1}, {"name": "streak"}])
    with pytest.raises(ValueError, match="paper's state space"):
        automaton_graph(np.zeros(space.n_states, dtype=int), space)


def test_paper_memory_encoding_matches_the_state_space():
    space = StateSpace.paper(2)
    state = encode_memory(space, (DEC, INC), (1, -1))
    assert space.describe(state) == "dec, inc | +, -"
    assert decode_memory(space, state) == ((DEC, INC), (1, -1))


# --- rule names -----------------------------------------------------------------------------


def test_rule_name_round_trips_and_tells_rules_apart():
    assert rule_number([KEEP, DEC, INC]) == 1 + 0 * 3 + 2 * 9
    assert rule_name([KEEP, DEC, INC]) == "s3-j"
    rng = np.random.default_rng(0)
    tables = [rng.integers(0, 3, 81) for _ in range(20)]
    names = [rule_name(t) for t in tables]
    assert len(set(names)) == len(names)
    for table, name in zip(tables, names, strict=True):
        assert np.array_equal(greedy_from_name(name), table)
        assert np.array_equal(greedy_from_number(rule_number(table), 81), table)
        assert len(name) <= 4 + 25
    assert rule_name(np.zeros(9, int)) != rule_name(np.zeros(81, int))  # all-decrement: only the size differs
    assert np.array_equal(greedy_from_name(rule_name(np.zeros(81, int))), np.zeros(81))
    policy = policy_from_rule(names[0], StateSpace.paper())
    assert rule_name(policy) == names[0]
    with pytest.raises(ValueError, match="not a rule name"):
        greedy_from_name("rule110")


# --- damage spreading -----------------------------------------------------------------------


def test_identical_runs_stay_identical():
    damage = damage_spreading(small(epsilon=0.3), 25, perturb=lambda state: None, warmup=5)
    assert damage.steps.tolist() == list(range(5, 31))
    for values in (damage.action_diff, damage.state_diff, damage.sign_diff, damage.weight_distance):
        assert not np.any(values)
    assert not damage.reward_diff.any()


def repeat_last_action_scenario(tmp_path):
    """Frozen rule "repeat your last action", no exploration: every synapse keeps forever."""
    space = StateSpace.paper()
    rule = [decode_memory(space, s)[0][0] for s in range(space.n_states)]
    policy_from_rule(rule, space).save(tmp_path / "repeat")
    return small(**{"policy.mode": "static", "policy.file": str(tmp_path / "repeat"), "epsilon": 0.0})


def test_flipped_memory_makes_damage_at_step_one(tmp_path):
    scenario = repeat_last_action_scenario(tmp_path)
    damage = damage_spreading(scenario, 6, perturb=flip_memory(sid=3, action=INC))
    # the perturbed synapse now repeats "increment"; every other synapse keeps in both copies
    assert damage.state_diff[0] >= 1 and damage.action_diff[0] == 0
    assert damage.action_diff[1:].tolist() == [1] * 6
    assert np.allclose(damage.weight_distance[1:], 0.001 * np.arange(1, 7))


def test_flipped_reward_reaches_every_synapse(tmp_path):
    damage = damage_spreading(repeat_last_action_scenario(tmp_path), 2, perturb=flip_reward(0))
    assert damage.state_diff[0] == damage.n_synapses
    assert damage.action_diff.tolist() == [0, 0, 0]  # the rule ignores rewards


def test_derrida_map_shapes():
    x, y = derrida(small(epsilon=0.2), fractions=(0.1, 0.5), warmup=3, trials=2)
    assert x.shape == y.shape == (2,)
    assert np.all((y >= 0) & (y <= 1)) and x[0] < x[1]


# --- the plotting helpers draw on a caller's Axes -------------------------------------------


def test_plot_helpers_draw():
    topo = Topology.from_layers([2, 4, 1])
    actions = np.random.default_rng(1).integers(0, 3, (20, topo.n_synapses))
    order = synapse_order(topo, "post")
    damage = damage_spreading(small(), 3, warmup=1)
    fig = Figure(figsize=(12, 6))
    axes = fig.subplots(2, 3).ravel()
    plot_spacetime(axes[0], spacetime(actions, order), group_boundaries(topo, order, "post"))
    plot_action_mix(axes[1], actions)
    plot_transitions(axes[2], transition_matrix(actions, normalize=True))
    pos = draw_automaton(axes[3], automaton_graph(WSLS, MEM1), reward=-1)
    assert len(pos) == 9
    plot_damage(axes[4], damage, log=True)
    plot_derrida(axes[5], np.array([0.1, 0.2]), np.array([0.15, 0.5]))
    fig.savefig(io.BytesIO(), format="png")  # renders every artist
    assert axes[0].images and axes[2].texts
