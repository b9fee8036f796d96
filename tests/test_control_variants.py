"""The control rules' variants from the specs: NRL's implicit noise and noisy-only passes, RMHL's
exploratory-Hebbian rule, the immediate-reward reaching task and its per-time-step RPE."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from test_control import control, first_episode

from synapse_sim import ScenarioError, VectorEngine
from synapse_sim.tasks.episodes import forward, log_softmax


def test_nrl_implicit_noise_reads_noisy_minus_clean_pre_activations():
    from synapse_sim.tasks.episodes import EpisodeSpec, run_episode

    env = gymnasium.make("CartPole-v1")
    rng = np.random.default_rng(3)
    weights = [rng.uniform(-0.5, 0.5, (5, 6)), rng.uniform(-0.5, 0.5, (7, 2))]

    def episode(implicit):
        spec = EpisodeSpec(0.3, "clean", True, False, np.random.default_rng(9), implicit_noise=implicit)
        return run_episode(env, weights, spec, "leaky_relu", "CartPole-v1")

    (explicit_record, explicit), (implicit_record, implicit) = episode(False), episode(True)
    np.testing.assert_array_equal(explicit_record.actions, implicit_record.actions)  # the same draws, the same acts
    np.testing.assert_allclose(implicit.noise[0], explicit.noise[0], atol=1e-12)  # the first layer: its own noise
    assert not np.allclose(implicit.noise[1], explicit.noise[1])  # the output's: the hidden layer's noise too
    observations = explicit.inputs[0][:-1].T
    for t, o in enumerate(observations):
        clean, noisy = [], []
        forward(o, weights, "leaky_relu", pre=clean)
        forward(o, weights, "leaky_relu", [xi[:, t] for xi in explicit.noise], noisy)
        np.testing.assert_allclose(implicit.noise[0][:, t], noisy[0] - clean[0], atol=1e-12)
        np.testing.assert_allclose(implicit.noise[1][:, t], noisy[1] - clean[1], atol=1e-12)
    power = [sum(float(xi[:, t] @ xi[:, t]) for xi in implicit.noise) for t in range(len(observations))]
    np.testing.assert_allclose(implicit_record.noise_power, power, rtol=1e-12)
    engine = VectorEngine(control("nrl", **{"nrl.implicit_noise": True, "nrl.eta": 0.5}))
    assert engine.simulation.rule.params()["implicit_noise"] and len(engine.run(3)) == 3


def test_nrl_without_a_clean_pass_compares_with_the_mean_policy_of_k_noisy_passes():
    from synapse_sim.tasks.episodes import EpisodeSpec, run_episode

    env = gymnasium.make("CartPole-v1")
    rng = np.random.default_rng(4)
    weights = [rng.uniform(-0.5, 0.5, (5, 6)), rng.uniform(-0.5, 0.5, (7, 2))]
    spec = EpisodeSpec(0.2, "clean", True, False, np.random.default_rng(11), reference_passes=3)
    record, trace = run_episode(env, weights, spec, "leaky_relu", "CartPole-v1")
    draws = np.random.default_rng(11)  # the same draws, in the order the episode takes them
    observation, _ = env.reset(seed=int(draws.integers(2**31)))
    for t, action in enumerate(record.actions):
        probe = [draws.standard_normal(n) * 0.2 for n in (6, 2)]
        np.testing.assert_allclose(trace.noise[0][:, t], probe[0], rtol=1e-12)
        mean = (
            sum(
                np.exp(
                    log_softmax(
                        forward(observation, weights, "leaky_relu", [draws.standard_normal(n) * 0.2 for n in (6, 2)])[1]
                    )
                )
                for _ in range(3)
            )
            / 3
        )
        expected = log_softmax(forward(observation, weights, "leaky_relu", probe)[1])[action] - np.log(mean[action])
        assert record.log_prob_change[t] == pytest.approx(expected, abs=1e-12)
        assert action == min(np.searchsorted(np.cumsum(mean), draws.random()), 1)  # it acts on the mean policy
        observation, *_ = env.step(action)
    with pytest.raises(ScenarioError, match="choose one of them"):
        control("nrl", **{"nrl.noisy_passes": 3, "nrl.implicit_noise": True})
    assert len(VectorEngine(control("nrl", **{"nrl.noisy_passes": 2})).run(2)) == 2


def test_exploratory_hebbian_rmhl_reads_activity_minus_its_running_mean():
    from synapse_sim.tasks.episodes import EpisodeSpec, run_episode

    env = gymnasium.make("CartPole-v1")
    rng = np.random.default_rng(5)
    weights = [rng.uniform(-0.5, 0.5, (5, 6)), rng.uniform(-0.5, 0.5, (7, 2))]
    start = (np.full(6, 0.2), np.full(2, -0.1))

    def episode(means):
        spec = EpisodeSpec(0.3, "noisy", False, False, np.random.default_rng(2), activity_mean=means, activity_rate=0.5)
        return run_episode(env, weights, spec, "leaky_relu", "CartPole-v1")

    (_, explicit), (record, hebbian) = episode(None), episode(start)
    means = [m.copy() for m in start]
    observations = explicit.inputs[0][:-1].T
    for t, o in enumerate(observations):
        noise = [xi[:, t] for xi in explicit.noise]
        pre = []
        forward(o, weights, "leaky_relu", noise, pre)
        for layer in range(2):
            means[layer] += 0.5 * ((pre[layer] - noise[layer]) - means[layer])
            np.testing.assert_allclose(hebbian.noise[layer][:, t], pre[layer] - means[layer], atol=1e-12)
    for final, expected in zip(record.activity_mean, means, strict=True):
        np.testing.assert_allclose(final, expected, atol=1e-12)
    assert start[0][0] == 0.2  # the rule's means are not changed by the episode; the record carries them
    engine = VectorEngine(control("rmhl", **{"rmhl.exploratory_hebbian": True}))
    engine.run(2)
    assert np.abs(engine.simulation.rule.activity_mean).sum() > 0
    assert "activity_mean" in engine.checkpoint()


def test_an_exploratory_hebbian_run_resumes_bit_for_bit(tmp_path):
    from synapse_sim.runner import run

    scenario = control("rmhl", **{"rmhl.exploratory_hebbian": True, "run.iterations": 30, "run.checkpoint_every": 10})
    run(scenario, tmp_path / "straight", progress=False)
    run(scenario, tmp_path / "resumed", progress=False, interrupt_at=13)
    run(None, tmp_path / "resumed", resume=True, progress=False)
    with np.load(tmp_path / "straight" / "checkpoint.npz") as a, np.load(tmp_path / "resumed" / "checkpoint.npz") as b:
        assert "engine_activity_mean" in a.files
        for key in a.files:
            if key != "wall_time":
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_the_reaching_task_pays_by_circular_distance_every_step():
    from gymnasium.utils.env_checker import check_env

    from synapse_sim.tasks.envs import REACHING
    from synapse_sim.tasks.envs.reaching import Reaching1D, circular_distance

    check_env(Reaching1D(), skip_render_check=True)
    assert circular_distance(0.1, 2 * np.pi - 0.1) == pytest.approx(0.2)
    env = gymnasium.make(REACHING)
    observation, _ = env.reset(seed=3)
    target = env.unwrapped.target
    assert observation.shape == (32,) and observation[:16] == pytest.approx(np.cos(target - env.unwrapped.preferred))
    _, reward, *_ = env.step(1)
    expected = max(1 - circular_distance(np.pi + 0.05, target), -0.1)
    assert reward == pytest.approx(expected) and env.unwrapped.theta == pytest.approx(np.pi + 0.05)
    steps = 1
    while not env.step(0)[3]:
        steps += 1
    assert steps + 1 == 300  # truncated after 300 steps


def test_a_time_step_rpe_weights_each_steps_product_by_r_t_minus_the_running_reward():
    from synapse_sim.rules.episodic import step_errors

    np.testing.assert_allclose(step_errors(np.array([1.0, 3.0, 0.0]), 0.5), [0.0, 2.0, -2.0])
    for seed in range(20):  # an episode whose target is near enough for the reward to vary
        engine, _, trace = first_episode(
            "reinforce",
            layers=(32, 6, 3),
            **{"control.env": "synapse_sim/Reaching1D-v0", "reinforce.rpe": "time_step", "run.seed": seed},
        )
        if np.ptp(trace.episode.rewards) > 0:
            break
    deltas = step_errors(trace.episode.rewards, 0.66)
    expected = np.concatenate([((x * deltas) @ f.T).ravel() for x, f in zip(trace.inputs, trace.feedback, strict=True)])
    np.testing.assert_allclose(engine.population.state["eligibility"], expected, rtol=1e-9, atol=1e-12)
    assert np.abs(deltas).sum() > 0
