"""Spiking GLM neurons as agents: the neuron model, the vote, the credit, the critic, the gridworld, learning."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from synapse_sim import Scenario, ScenarioError, VectorEngine
from synapse_sim.rules import critic
from synapse_sim.tasks.envs import GRIDWORLD
from synapse_sim.tasks.envs.gridworld import Gridworld
from synapse_sim.tasks.spiking import choose, credit, post_signals, spike_forward, vote


def spiking(env="CartPole-v1", layers=(4, 8, 2), **keys) -> Scenario:
    return Scenario().with_overrides(
        {"task.name": "control", "control.env": env, "run.method": "spiking", "layers": list(layers), **keys}
    )


def gridworld(**keys) -> Scenario:
    settings = {
        "control.actors": 10,
        "spiking.alpha": 0.01,
        "spiking.critic_features": "observation",
        "spiking.discount": 0.9,
        "spiking.trace_decay": 0.7,
        "spiking.vote_epsilon": 0.01,
        "spiking.credit": "target",
    }
    return spiking(GRIDWORLD, (100, 32, 40), **{**settings, **keys})


def test_the_eligibility_is_the_finite_difference_gradient_of_the_spike_log_probability():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(5), rng.standard_normal(5) * 0.5
    for s in (-1.0, 1.0):

        def log_pi(weights, s=s):
            z = x @ weights
            return -np.log1p(np.exp(-2 * s * z))  # log sigmoid(2 s z)

        numeric = np.array([(log_pi(w + h) - log_pi(w - h)) / 2e-6 for h in np.eye(5) * 1e-6])
        z = x @ w
        np.testing.assert_allclose(x * (s - np.tanh(z)), numeric, rtol=1e-6, atol=1e-9)


def test_spikes_fire_with_probability_sigmoid_2z_and_feed_the_next_layer():
    weights = [np.array([[0.8, -0.3], [0.0, 0.0]]), np.array([[1.0], [1.0], [0.0]])]
    rng = np.random.default_rng(1)
    fired = np.array([spike_forward(np.array([1.0]), weights, rng)[2][0] for _ in range(20000)])
    np.testing.assert_allclose((fired > 0).mean(axis=0), 1 / (1 + np.exp(-2 * np.array([0.8, -0.3]))), atol=0.01)
    inputs, drives, spikes = spike_forward(np.array([1.0]), weights, np.random.default_rng(2))
    np.testing.assert_array_equal(inputs[1], spikes[0])
    assert drives[1][0] == spikes[0].sum() and set(np.unique(spikes[1])) <= {-1.0, 1.0}


def test_the_population_vote_counts_spikes_per_action_and_breaks_ties_to_the_first():
    # K = 3 populations, 2 actions: neuron k * 2 + a votes for action a
    assert vote(np.array([1, -1, -1, 1, -1, 1]), 2) == 1
    assert vote(np.array([1, 1, -1, -1, -1, -1]), 2) == 0
    assert vote(np.array([1, -1, -1, 1, 1, -1]), 2) == 0
    assert choose(np.array([1, -1, -1, 1, 1, -1]), 2, 0.0, np.random.default_rng(0)) == 0
    explored = [choose(np.array([1, -1]), 2, 1.0, np.random.default_rng(k)) for k in range(200)]
    assert 60 < sum(explored) < 140  # epsilon = 1: uniform


def test_the_output_credit_follows_the_two_codes():
    spikes = np.array([1, -1, -1, 1, 1, 1], dtype=float)  # actions 0, 1 x 3 populations; action 0 chosen
    np.testing.assert_array_equal(credit(spikes, 0, 2, "chosen"), [1, 1, 1, -1, 1, -1])
    np.testing.assert_array_equal(credit(spikes, 0, 2, "target"), [1, 1, -1, -1, 1, -1])
    drives = [np.zeros(2), np.zeros(6)]
    signals = post_signals(drives, [np.array([1.0, -1.0]), spikes], 0, 2, "chosen")
    np.testing.assert_array_equal(signals[0], [1, -1])  # hidden neurons: c = +1
    np.testing.assert_array_equal(signals[1], spikes * credit(spikes, 0, 2, "chosen"))


def test_online_td_lambda_learns_the_values_of_a_chain():
    # a 3-state chain walked left to right, reward 1 at the end: V = (gamma^2, gamma, 1)
    phi = np.vstack([np.eye(3), np.zeros(3)])
    v = np.zeros(3)
    for _ in range(300):
        deltas, v = critic.td_lambda(v, phi, np.array([0.0, 0.0, 1.0]), True, 0.9, 0.5, 0.3)
    np.testing.assert_allclose(v, [0.81, 0.9, 1.0], atol=1e-6)
    np.testing.assert_allclose(deltas, 0, atol=1e-6)
    once, _ = critic.td_lambda(np.ones(3), phi, np.zeros(3), False, 1.0, 0.0, 0.1)
    np.testing.assert_allclose(once, [0, 0, -1])  # not terminal: V(after) = phi . v = 0 here (zero features)
    fourier = critic.features("fourier", None, np.array([[0.0, 0.5], [1.0, 1.0]]), 1)
    np.testing.assert_allclose(fourier, [[1, 0, 1, 0], [1, -1, -1, 1]], atol=1e-12)


def test_the_gridworld_is_a_gymnasium_environment_with_the_papers_slip():
    from gymnasium.utils.env_checker import check_env

    check_env(Gridworld(), skip_render_check=True)
    env = Gridworld()
    env.reset(seed=0)
    moves = {}
    for _ in range(20000):
        env.cell = 55
        cell, reward, terminated, _, _ = env.step(1)  # right
        moves[cell - 55] = moves.get(cell - 55, 0) + 1
        assert reward == 0 and not terminated
    shares = {k: v / 20000 for k, v in moves.items()}
    assert shares[1] == pytest.approx(0.8, abs=0.01) and shares[0] == pytest.approx(0.1, abs=0.01)
    assert shares[-10] == pytest.approx(0.05, abs=0.006) and shares[10] == pytest.approx(0.05, abs=0.006)
    env.cell = 0
    assert env.step(0)[0] in (0, 1)  # up from the top row: a wall (or a veer right)
    env.cell = 98
    while env.cell == 98:
        cell, reward, terminated, _, _ = env.step(1)
    if cell == 99:
        assert reward == 10 and terminated
    registered = gymnasium.make(GRIDWORLD)
    assert registered.spec.max_episode_steps == 300 and registered.spec.reward_threshold == 10
    with pytest.raises(ValueError, match="4 moves"):
        env.step(7)


def test_spiking_agents_learn_the_gridworld():
    engine = VectorEngine(gridworld())
    results = engine.run(200)
    reached = np.array([r.records["return"] >= 10 for r in results])
    lengths = np.array([r.records["episode_length"] for r in results])
    assert reached[-50:].mean() >= 0.9 and lengths[-50:].mean() < 40 < lengths[:20].mean()


def test_the_critic_is_checkpointed_and_a_spiking_run_resumes_bit_for_bit(tmp_path):
    from synapse_sim.runner import run

    scenario = gridworld(**{"run.iterations": 30, "run.checkpoint_every": 10})
    run(scenario, tmp_path / "straight", progress=False)
    run(scenario, tmp_path / "resumed", progress=False, interrupt_at=13)
    run(None, tmp_path / "resumed", resume=True, progress=False)
    with np.load(tmp_path / "straight" / "checkpoint.npz") as a, np.load(tmp_path / "resumed" / "checkpoint.npz") as b:
        assert np.abs(a["engine_critic_values"]).sum() > 0
        for key in a.files:
            if key != "wall_time":
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_bad_spiking_input_is_refused_with_what_to_do():
    with pytest.raises(ScenarioError, match=r"must be \[4, \.\.\., 20\] \(control.actors = 10 x 2 actions\)"):
        VectorEngine(spiking(layers=(4, 8, 2), **{"control.actors": 10}))
    with pytest.raises(ScenarioError, match=r"a population of K outputs per action is the spiking rule's"):
        VectorEngine(spiking(layers=(4, 8, 20), **{"control.actors": 10, "run.method": "reinforce"}))
    with pytest.raises(
        ScenarioError, match=r"order 5 on 100 inputs has [0-9,]+ features.*critic_features = 'observation'"
    ):
        VectorEngine(gridworld(**{"spiking.critic_features": "fourier", "network.layers": [100, 8, 40]}))
    with pytest.raises(ScenarioError, match="one of 'chosen', 'target'"):
        spiking(**{"spiking.credit": "module"})
    engine = VectorEngine(gridworld(**{"spiking.critic_rate": 1e300, "spiking.trace_decay": 1.0}))
    with pytest.raises(FloatingPointError, match=r"critic's TD error is not finite.*spiking.critic_rate"):
        engine.run(50)


def test_observation_codes_unit_and_bins():
    from gymnasium import spaces

    from synapse_sim.tasks.observations import ObservationCode

    space = spaces.Box(np.array([-1.0, 0.0]), np.array([1.0, np.inf]), dtype=np.float64)
    unit = ObservationCode(space, "unit")
    np.testing.assert_allclose(unit(np.array([0.5, 0.0])), [0.5, 0.0])  # [-1, 1]; tanh for the unbounded one
    bins = ObservationCode(space, "bins", bins=4)
    assert bins.size == 8
    np.testing.assert_array_equal(bins(np.array([0.9, 0.0])), [-1, -1, -1, 1, -1, -1, 1, -1])
    np.testing.assert_array_equal(bins(np.array([-5.0, -50.0])), [1, -1, -1, -1, 1, -1, -1, -1])  # clipped
    np.testing.assert_allclose(bins.unit([np.array([0.0, 0.0])]), [[0.5, 0.5]])
    grid = ObservationCode(spaces.Discrete(3))
    np.testing.assert_array_equal(grid(2), [0, 0, 1])
    assert grid.size == 3 and grid.unit([0, 1]).shape == (2, 3)


def test_max_steps_replaces_the_environments_own_limit_and_bins_feed_the_network():
    engine = VectorEngine(
        spiking(
            "MountainCar-v0",
            (20, 6, 3),
            **{"control.max_steps": 260, "control.encoding": "bins", "spiking.fourier_order": 3},
        )
    )
    lengths = [r.records["episode_length"] for r in engine.run(2)]
    assert lengths == [260, 260]  # MountainCar-v0's own limit is 200; a random policy never gets there
    assert engine.simulation.rule.values.size == 16  # the Fourier basis reads the 2 raw dimensions


def test_the_control_study_runs_the_spiking_populations_and_counts_a_threshold_of_its_own(tmp_path):
    from synapse_sim.studies.control import control_study

    text, rows = control_study(
        GRIDWORLD,
        ["spiking"],
        [0, 1],
        tmp_path,
        60,
        networks=((16,),),
        sets=["spiking.alpha=0.01", "spiking.critic_features=observation", "spiking.discount=0.9"],
        processes=1,
        threshold=5,
    )
    scenario = Scenario.load(tmp_path / "16" / "spiking" / "seed0" / "scenario.toml")
    assert scenario["network"]["layers"] == [100, 16, 40] and scenario["control"]["actors"] == 10
    assert "reached 5" in text and "runs stop at the environment's 10.0" in text
    assert rows[0]["last_at_threshold"] is not None and rows[0]["final_length_mean"] > 0


def test_a_control_setting_of_the_user_overrides_a_rules_study_default(tmp_path):
    from synapse_sim.studies.control import control_jobs

    jobs = control_jobs("CartPole-v1", ["spiking"], [0], tmp_path, 5, ((8,),), ["control.actors=3"])
    assert jobs[0].scenario["control"]["actors"] == 3 and jobs[0].scenario["network"]["layers"] == [4, 8, 6]
    default = control_jobs("CartPole-v1", ["spiking"], [0], tmp_path, 5, ((8,),))
    assert default[0].scenario["network"]["layers"] == [4, 8, 20]
