"""The population tools of issue 12 (part 3): occupancy, reachable automaton, canonical names, damage
statistics, multi-step Derrida maps, per-cell information and the report; each checked on a case whose
answer is known."""

import io

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from synapse_sim import Policy, Scenario, VectorEngine
from synapse_sim.model import SynapseModel
from synapse_sim.rules.synaptic_rl.policy import SHIPPED_POLICY
from synapse_sim.rules.synaptic_rl.state_space import StateSpace
from synapse_sim.studies.analysis import (
    TIE_COLOR,
    UNVISITED_COLOR,
    automaton_graph,
    canonical_rule_name,
    cell_entropy,
    damage_statistics,
    decode_canonical_name,
    decode_memory,
    derrida,
    derrida_map,
    draw_automaton,
    encode_memory,
    exploration_floor,
    format_report,
    initial_state,
    lagged_mutual_information,
    mi_bias,
    mutual_information_curve,
    occupancy,
    occupied_count,
    plot_cell_entropy,
    plot_damage_statistics,
    plot_derrida_map,
    plot_mutual_information,
    plot_occupancy,
    plot_state_spacetime,
    policy_from_rule,
    population_report,
    reachable_states,
    record_actions,
    record_states,
    rule_distance,
    rule_name,
    tied_states,
    top_states,
    visited_mask,
    visited_states,
)

DEC, KEEP, INC = 0, 1, 2
PAPER = StateSpace.paper()
SHIPPED = Policy.load(SHIPPED_POLICY)


def small(**overrides):
    base = {"layers": [2, 4, 1], "n_points": 60, "run.seed": 2}
    return Scenario().with_overrides({**base, **overrides})


def static_small(**overrides):
    return small(**{"policy.mode": "static", "policy.file": "shipped", **overrides})


# --- reachable, visited, tied states --------------------------------------------------------


def test_paper_space_has_43_reachable_and_38_unreachable_states():
    reachable = reachable_states(PAPER)
    assert reachable.size == 43 and PAPER.n_states - reachable.size == 38
    start = initial_state(PAPER)
    assert start == encode_memory(PAPER, (KEEP, KEEP), (0, 0)) and start in reachable
    for s in reachable.tolist():  # a reward of 0 is only remembered before the first rewards arrive
        (_, a2), (r1, r2) = decode_memory(PAPER, s)
        assert (r1, r2) in ((0, 0), (1, 0), (-1, 0)) or 0 not in (r1, r2)
        assert r1 != 0 or (s == start)
        assert r2 != 0 or a2 == KEEP
    assert reachable_states(StateSpace.paper(1)).size == 7  # keep|0, then 3 actions x 2 rewards
    greedy_only = reachable_states(SHIPPED, explore=False)
    assert set(greedy_only.tolist()) < set(reachable.tolist())
    with pytest.raises(ValueError, match="policy"):
        reachable_states(PAPER, explore=False)


def test_shipped_policy_visited_unvisited_and_graph_marks():
    zero_rows = ~visited_mask(SHIPPED)
    assert zero_rows.sum() == 41
    visited = visited_states(SHIPPED)
    assert visited.size == 40
    never = sorted(set(reachable_states(PAPER).tolist()) - set(visited.tolist()))
    assert [PAPER.describe(s) for s in never] == ["dec, keep | +, 0", "keep, keep | +, 0", "inc, keep | +, 0"]
    assert not tied_states(SHIPPED).any()
    full = automaton_graph(SHIPPED)
    kinds = [full.nodes[s]["kind"] for s in full]
    assert kinds.count("unvisited") == 41 and full.graph["n_reachable"] == 43 and full.graph["n_visited"] == 40
    graph = automaton_graph(SHIPPED, reachable_only=True)
    assert graph.number_of_nodes() == 43 and graph.number_of_edges() == 86  # closed: no edge leaves
    assert sorted(s for s in graph if not graph.nodes[s]["visited"]) == never
    red = np.mean([graph.nodes[s]["action"] == DEC for s in graph if graph.nodes[s]["visited"]])
    assert red < 0.5  # the all-"decrement" look came from rows that were never learned


def test_ties_are_marked_not_painted_decrement():
    q = np.zeros((9, 3))
    space = StateSpace.paper(1)
    q[:, INC] = 1.0
    q[3] = [0.5, 0.5, 0.1]  # keep | - : tie between dec and keep
    q[8] = 0.0  # inc | + : never visited
    graph = automaton_graph(q, space)
    assert graph.nodes[3]["tie"] and graph.nodes[3]["tied_actions"] == (DEC, KEEP) and graph.nodes[3]["kind"] == "tie"
    assert graph.nodes[8]["kind"] == "unvisited" and not graph.nodes[8]["tie"]
    assert tied_states(q).tolist() == [s == 3 for s in range(9)]
    fig = Figure()
    ax = fig.subplots()
    draw_automaton(ax, graph, legend=True)
    drawn = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    assert len(drawn["unvisited"].get_offsets()) == 1 and len(drawn["visited"].get_offsets()) == 8
    assert np.allclose(drawn["unvisited"].get_facecolors()[0][:3], [1, 1, 1]) and UNVISITED_COLOR == "white"
    tie_face = drawn["visited"].get_facecolors()[[s for s in graph if s != 8].index(3)]
    assert np.allclose(tie_face[:3], to_rgb(TIE_COLOR))  # gold, not the tie rule's "decrement" red
    fig.savefig(io.BytesIO(), format="png")


# --- canonical names and distances ----------------------------------------------------------


def _variants():
    """The shipped table with a tie put into a visited row, and an equivalent and a different copy."""
    reachable = reachable_states(PAPER)
    visited = visited_states(SHIPPED)
    tied, changed = int(visited[0]), int(visited[5])
    a = SHIPPED.q.copy()
    a[tied] = [1.0, 1.0, 0.0]
    b = a.copy()
    unreachable = np.setdiff1d(np.arange(81), reachable)
    b[unreachable] = np.random.default_rng(0).normal(size=(unreachable.size, 3))  # differs only off the reachable set
    b[tied] = [3.0, 3.0, -2.0]  # the same tie, other values
    c = a.copy()
    c[changed] = np.roll(a[changed], 1)  # another unique greedy action in a visited reachable row
    return a, b, c, changed


def test_canonical_name_ignores_unreachable_rows_and_tie_values_but_not_real_differences():
    a, b, c, _ = _variants()
    pa, pb, pc = (Policy(PAPER, q=q) for q in (a, b, c))
    assert rule_name(pa) != rule_name(pb)  # the exact encoding sees the unreachable rows
    assert canonical_rule_name(pa) == canonical_rule_name(pb)
    assert canonical_rule_name(pa) != canonical_rule_name(pc)
    name = canonical_rule_name(pa)
    assert name.startswith("s81r43-") and len(name) == len("s81r43-") + 43
    assert name.count(".") == 3 and name.count("a") == 1  # 3 never-visited states, one dec/keep tie
    decoded = decode_canonical_name(name, PAPER)
    assert len(decoded) == 43 and sum(v == () for v in decoded.values()) == 3
    # a bare greedy table carries no visit or tie information: every reachable state gets a digit
    assert set(canonical_rule_name(SHIPPED.greedy_rule(), PAPER).split("-")[1]) <= set("012")
    with pytest.raises(ValueError, match="canonical"):
        decode_canonical_name("s81r43-000", PAPER)


def test_rule_distance_zero_for_equivalent_rules_positive_otherwise():
    a, b, c, changed = _variants()
    assert rule_distance(a, b, state_space=PAPER) == (0, 0.0, None, 43)
    d = rule_distance(Policy(PAPER, q=a), Policy(PAPER, q=c))
    assert d.count == 1 and d.fraction == pytest.approx(1 / 43)
    weights = np.zeros(81)
    weights[changed] = 3.0
    weights[reachable_states(PAPER)[0]] = 1.0
    assert rule_distance(a, c, weights=weights, state_space=PAPER).weighted == pytest.approx(0.75)
    copy = policy_from_rule(SHIPPED.greedy_rule(), PAPER)  # every row "visited": the zero rows become digits
    assert rule_distance(SHIPPED, copy).count == 0
    assert canonical_rule_name(SHIPPED) != canonical_rule_name(copy)


# --- occupancy --------------------------------------------------------------------------------


def test_occupancy_rows_sum_to_one_and_count_states():
    states = np.array([[0, 0, 1, 2], [3, 3, 3, 3]])
    occ = occupancy(states, 5)
    assert np.allclose(occ.sum(axis=1), 1.0)
    assert occ[0].tolist() == [0.5, 0.25, 0.25, 0, 0] and occupied_count(occ).tolist() == [3, 1]
    assert top_states(occ, 2) == [(3, 0.5), (0, 0.25)]
    with pytest.raises(ValueError, match=r"0\.\.4"):
        occupancy(np.array([[5]]), 5)


def test_shipped_static_scenario_occupies_few_states_and_states_pair_with_actions():
    engine = VectorEngine(Scenario.load("decision_boundary_static").with_overrides({"task.n_points": 300}))
    engine.run(50)
    states, rewards = record_states(engine, 60)
    occ = occupancy(states, 81)
    assert np.allclose(occ.sum(axis=1), 1.0)
    counts = occupied_count(occ)
    assert counts.max() <= 9 and counts.mean() < 81 / 8  # one shared reward history: <= 3 x 3 action pairs
    assert set(np.unique(rewards)) <= {-1, 1}
    # states[t] is the state step t acts from: without exploration, the action is its greedy action
    engine = VectorEngine(static_small(epsilon=0.0))
    states, actions, _ = record_states(engine, 20, actions=True)
    assert np.array_equal(actions, SHIPPED.greedy[states])
    assert states[0].tolist() == [initial_state(PAPER)] * states.shape[1]


def test_record_states_agrees_between_views():
    scenario = small(epsilon=0.5)
    vec_states, vec_actions, vec_rewards = record_states(VectorEngine(scenario), 10, actions=True)
    model_states, model_rewards = record_states(SynapseModel(scenario), 10)
    assert np.array_equal(vec_states, model_states) and np.array_equal(vec_rewards, model_rewards)
    actions, _ = record_actions(VectorEngine(scenario), 10)
    assert np.array_equal(actions, vec_actions)


# --- damage statistics and Derrida maps ---------------------------------------------------------


def repeat_last_action(tmp_path):
    """Frozen rule "repeat your last action", no exploration: every synapse keeps forever."""
    rule = [decode_memory(PAPER, s)[0][0] for s in range(PAPER.n_states)]
    policy_from_rule(rule, PAPER).save(tmp_path / "repeat")
    return small(**{"policy.mode": "static", "policy.file": str(tmp_path / "repeat"), "epsilon": 0.0})


def test_damage_classification_on_hand_built_flips(tmp_path):
    scenario = repeat_last_action(tmp_path)
    # position 1 (a_{t-2}) does not change the greedy action of this rule and leaves the memory next step
    stats = damage_statistics(scenario, steps=10, warmup=3, flips=[(3, 1, 1), (3, 0, 1), (5, 0, 2)])
    assert stats.outcome[0] == "heal" and stats.healed_at[0] == 1
    assert stats.memory_diff[0].tolist() == [1] + [0] * 10 and not stats.weight_diff[0].any()
    for i in (1, 2):  # the flipped synapse now repeats inc / dec: its weight moves away for good
        assert stats.outcome[i] in ("latent", "spread") and stats.healed_at[i] == -1
        assert stats.weight_diff[i, 1:].tolist() == [1] * 10
        assert np.allclose(stats.weight_distance[i, 1:], 0.001 * np.arange(1, 11))  # the rule ignores rewards
        assert (stats.outcome[i] == "spread") == (stats.first_flip[i] >= 1)
        if stats.first_flip[i] >= 1:  # a differing reward reaches every synapse's memory at once
            assert stats.memory_diff[i, stats.first_flip[i]] == stats.n_synapses
    assert sum(stats.fractions.values()) == pytest.approx(1.0)
    # a "flip" by 3 = no change: the twin machinery itself must not create damage
    same = damage_statistics(static_small(), steps=5, warmup=4, flips=[(2, 0, 3)])
    assert same.outcome.tolist() == ["heal"] and same.healed_at.tolist() == [0] and not same.memory_diff.any()


def test_damage_statistics_over_100_flips_sum_to_one_and_repeat():
    scenario = static_small()
    stats = damage_statistics(scenario, n_perturbations=100, steps=30, warmup=(40, 80), seed=3)
    assert stats.n == 100 and sum(stats.fractions.values()) == pytest.approx(1.0)
    assert set(stats.start.tolist()) == {40, 80}
    assert stats.memory_diff.shape == (100, 31) and np.all(stats.memory_diff[:, 0] == 1)
    assert np.all(stats.weight_diff[:, 0] == 0)  # a memory flip moves no weight before the next step
    healed = stats.outcome == "heal"
    assert np.array_equal(stats.outcome[~healed] == "spread", stats.first_flip[~healed] >= 1)
    for i in np.flatnonzero(healed):  # identical from healed_at on: nothing differs afterwards
        assert stats.healed_at[i] >= 1 and not stats.memory_diff[i, stats.healed_at[i] :].any()
        assert not stats.weight_diff[i, stats.healed_at[i] :].any()
    for i in np.flatnonzero(stats.first_flip >= 1):
        assert stats.memory_diff[i, stats.first_flip[i]] == stats.n_synapses
    assert len(set(stats.outcome.tolist())) >= 2  # the flips do not all end alike
    again = damage_statistics(scenario, n_perturbations=100, steps=30, warmup=(40, 80), seed=3)
    assert np.array_equal(stats.memory_diff, again.memory_diff) and np.array_equal(stats.outcome, again.outcome)
    assert np.array_equal(stats.weight_distance, again.weight_distance)
    other = damage_statistics(scenario, n_perturbations=100, steps=30, warmup=(40, 80), seed=4)
    assert not np.array_equal(stats.sid, other.sid)


def _old_one_step_derrida(scenario, fractions, warmup, trials, seed):
    """The pre-issue-12 one-step map, kept here as the reference for k = 1."""
    base = VectorEngine(scenario)
    for _ in range(warmup):
        base.step()
    snapshot = base.checkpoint()
    n = base.simulation.topology.n_synapses
    rng = np.random.default_rng(seed)
    ys = []
    for fraction in fractions:
        k = max(1, round(fraction * n))
        results = []
        for _ in range(trials):
            sids = rng.choice(n, k, replace=False)
            shift = rng.integers(1, 3, k)
            a, b = VectorEngine(scenario), VectorEngine(scenario)
            a.restore(snapshot)
            state = {key: np.array(v, copy=True) for key, v in snapshot.items()}
            state["action_history"][sids, 0] = (state["action_history"][sids, 0] + shift) % 3
            b.restore(state)
            a.step()
            b.step()
            results.append(np.count_nonzero(a.population.state["state"] != b.population.state["state"]) / n)
        ys.append(float(np.mean(results)))
    return np.array(ys)


def test_derrida_map_values_and_one_step_compatibility():
    scenario = small(epsilon=0.2)
    fractions = (0.1, 0.3, 0.6)
    dmap = derrida_map(scenario, fractions, steps=(1, 2, 6), warmup=5, trials=3, seed=1)
    assert dmap.y.shape == (3, 3) and dmap.action_memory == 2
    for values in (dmap.y, dmap.y_own, dmap.weights, dmap.reward_flipped):
        assert np.all((values >= 0) & (values <= 1))
    assert np.all(dmap.y[:, 0] >= dmap.x - 1e-12) and np.all(dmap.y_own[:, 0] >= dmap.x - 1e-12)  # k=1 < memory
    assert np.all(dmap.y >= dmap.y_own) and np.all(np.diff(dmap.reward_flipped, axis=1) >= 0)
    x, y = derrida(scenario, fractions, warmup=5, trials=3, seed=1)
    assert np.array_equal(x, dmap.x) and np.allclose(y, dmap.y[:, 0])
    assert np.allclose(y, _old_one_step_derrida(scenario, fractions, 5, 3, 1))


def test_memory_can_heal_below_the_diagonal_after_the_action_memory(tmp_path):
    # "repeat your last action" with epsilon 0 and one synapse's last action set to keep: nothing changes, and
    # after 2 steps the changed action has left every memory... unless it changed the action. Use a rule that
    # always keeps: the perturbed actions are forgotten after two steps and nothing else differs.
    policy_from_rule(np.full(81, KEEP), PAPER).save(tmp_path / "keep")
    scenario = small(**{"policy.mode": "static", "policy.file": str(tmp_path / "keep"), "epsilon": 0.0})
    dmap = derrida_map(scenario, (0.25, 0.5), steps=(1, 2, 3), warmup=2, trials=2)
    assert np.allclose(dmap.y_own[:, 0], dmap.x) and np.allclose(dmap.y_own[:, 1:], 0.0)
    assert np.allclose(dmap.weights, 0.0) and not dmap.reward_flipped.any()


# --- entropy and mutual information --------------------------------------------------------------


def test_cell_entropy_constant_zero_uniform_log2_3_and_windows():
    constant = np.full((30, 4), INC)
    assert np.array_equal(cell_entropy(constant), np.zeros(4))
    cycle = np.tile(np.arange(3), 10)[:, None].repeat(5, axis=1)
    assert np.allclose(cell_entropy(cycle), np.log2(3))
    assert cell_entropy(cycle, window=6).shape == (5, 5) and np.allclose(cell_entropy(cycle, window=6), np.log2(3))
    assert np.allclose(cell_entropy(np.array([[0], [2]])), 1.0)


def test_exploration_floor():
    assert exploration_floor(0) == 0
    assert exploration_floor(1) == pytest.approx(np.log2(3))
    eps = 0.25
    p = np.array([1 - 2 * eps / 3, eps / 3, eps / 3])
    assert exploration_floor(eps) == pytest.approx(-(p * np.log2(p)).sum()) and exploration_floor(eps) < np.log2(3)
    rng = np.random.default_rng(0)  # a synapse whose greedy action never changes, simulated
    explore = rng.random((100_000, 3)) < eps
    actions = np.where(explore, rng.integers(0, 3, (100_000, 3)), KEEP)
    assert np.allclose(cell_entropy(actions), exploration_floor(eps), atol=0.01)
    with pytest.raises(ValueError):
        exploration_floor(1.5)


def test_lagged_mutual_information():
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 3, (20000, 4))
    mi = lagged_mutual_information(noise, 1)
    assert mi.shape == (4,) and np.all(mi < 5 * mi_bias(20000))
    copy = noise.copy()  # column 0 copies its previous action with probability 0.9, column 1 always cycles
    keep = rng.random(20000) < 0.9
    for t in range(1, 20000):
        if keep[t]:
            copy[t, 0] = copy[t - 1, 0]
        copy[t, 1] = (copy[t - 1, 1] + 1) % 3
    mi = lagged_mutual_information(copy, 1)
    assert mi[0] > 0.5 and mi[1] == pytest.approx(np.log2(3)) and mi[2] < 5 * mi_bias(20000)
    cyc = np.tile(np.arange(3), 200)[:, None]
    assert lagged_mutual_information(cyc, 2, average=True) == pytest.approx(np.log2(3), rel=1e-4)
    assert mutual_information_curve(noise, [1, 2, 3]).shape == (3, 4)
    with pytest.raises(ValueError, match="lag"):
        lagged_mutual_information(noise, 0)


# --- the report and the plots ---------------------------------------------------------------------


def test_population_report_and_policy_override():
    report = population_report(static_small(), steps=40, warmup=30, n_perturbations=100, damage_steps=15, seed=0)
    assert (report.n_reachable, report.n_visited, report.n_ties) == (43, 40, 0)
    assert report.canonical_name == canonical_rule_name(SHIPPED)
    assert 1 <= report.mean_occupied <= 9 and report.top_states[0][2] >= report.top_states[-1][2]
    assert report.damage.n == 100 and sum(report.damage_fractions.values()) == pytest.approx(1.0)
    assert report.entropy_floor == pytest.approx(exploration_floor(0.25))
    text = format_report(report)
    assert report.canonical_name in text and "| states reachable from the initial memory | 43 of 81" in text
    # the same policy given as an object to an adaptive scenario runs the same trajectory as the static file
    adaptive = small()
    from synapse_sim.studies.analysis._twins import engine_factory

    a = record_states(engine_factory(adaptive, SHIPPED)(), 15)
    b = record_states(VectorEngine(static_small()), 15)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_population_plots_draw():
    scenario = static_small()
    states, actions, rewards = record_states(VectorEngine(scenario), 30, actions=True)
    occ = occupancy(states, 81)
    stats = damage_statistics(scenario, n_perturbations=6, steps=10, warmup=5)
    dmap = derrida_map(scenario, (0.2, 0.5), steps=(1, 3), warmup=2, trials=1)
    fig = Figure(figsize=(14, 10))
    reward_ax, occ_ax = plot_occupancy(fig.add_subfigure(fig.add_gridspec(3, 3)[0, :2]), occ, rewards, PAPER.labels())
    assert reward_ax.images and occ_ax.images
    axes = fig.add_gridspec(3, 3)
    plot_state_spacetime(fig.add_subplot(axes[0, 2]), states, PAPER)
    plot_damage_statistics([fig.add_subplot(axes[1, i]) for i in range(3)], stats)
    plot_derrida_map(fig.add_subplot(axes[2, 0]), dmap)
    ax = fig.add_subplot(axes[2, 1])
    plot_cell_entropy(ax, cell_entropy(actions), epsilon=0.25)
    assert any(np.allclose(line.get_xdata(), exploration_floor(0.25)) for line in ax.lines)
    plot_mutual_information(fig.add_subplot(axes[2, 2]), [1, 2], mutual_information_curve(actions, [1, 2]), 30)
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(ValueError, match="measure"):
        plot_derrida_map(occ_ax, dmap, measure="colour")
