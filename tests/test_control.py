"""Control tasks (Gymnasium episodes) and the rules that learn from them: REINFORCE, NRL, RMHL."""

from __future__ import annotations

import json

import gymnasium
import numpy as np
import pytest

from synapse_sim import Scenario, ScenarioError, VectorEngine, check_rule
from synapse_sim.rules import RULES
from synapse_sim.tasks.episodes import forward, log_softmax

CONTROL_RULES = ("reinforce", "nrl", "rmhl")


def control(method: str, layers=(4, 6, 2), **keys) -> Scenario:
    return Scenario().with_overrides(
        {
            "task.name": "control",
            "run.method": method,
            "layers": list(layers),
            "hidden_activation": "leaky_relu",
            "network.init_range": 0.5,
            "network.dtype": "float64",
            **keys,
        }
    )


def first_episode(method: str, **keys):
    """A vectorised engine after one episode at a negligible rate, its weights before it, the trace."""
    engine = VectorEngine(control(method, **{f"{method}.eta": 1e-12, **keys}))
    before = engine.population.weights.copy()
    engine.step()
    return engine, before, engine.simulation.last.trace


def log_likelihood(topology, weights, trace) -> float:
    """sum_t log pi(a_t | s_t) of the episode's own observations and actions under ``weights``."""
    matrices = topology.matrices(weights)
    observations = trace.inputs[0][:-1].T
    return sum(
        log_softmax(forward(o, matrices, "leaky_relu")[1])[a]
        for o, a in zip(observations, trace.episode.actions, strict=True)
    )


def numeric_gradient(topology, weights, trace, h=1e-6) -> np.ndarray:
    grad = np.empty(weights.size)
    for k in range(weights.size):
        step = np.zeros(weights.size)
        step[k] = h
        up, down = log_likelihood(topology, weights + step, trace), log_likelihood(topology, weights - step, trace)
        grad[k] = (up - down) / (2 * h)
    return grad


@pytest.mark.parametrize(
    "rule",
    [
        RULES["reinforce"](),
        RULES["nrl"](),
        RULES["nrl"](scale_by_width=True),
        RULES["nrl"](implicit_noise=True),
        RULES["nrl"](noisy_passes=3),
        RULES["rmhl"](),
        RULES["rmhl"](exploratory_hebbian=True),
    ],
    ids=repr,
)
def test_check_rule_passes_for_every_control_rule(rule):
    report = check_rule(rule)
    assert report.ok, str(report)


def test_reinforce_eligibility_is_the_gradient_of_the_episodes_log_likelihood():
    engine, before, trace = first_episode("reinforce")
    grad = numeric_gradient(engine.simulation.topology, before, trace)
    np.testing.assert_allclose(engine.population.state["eligibility"], grad, rtol=1e-6, atol=1e-7)


def test_nrl_probes_the_log_probability_along_its_noise_and_estimates_the_gradient():
    engine, before, trace = first_episode("nrl", **{"nrl.sigma": 1e-3})
    episode, topology = trace.episode, engine.simulation.topology
    matrices = topology.matrices(before)
    observations = trace.inputs[0][:-1].T
    for t, (o, a) in enumerate(zip(observations, episode.actions, strict=True)):
        noise = [xi[:, t] for xi in trace.noise]
        clean, noisy = forward(o, matrices, "leaky_relu")[1], forward(o, matrices, "leaky_relu", noise)[1]
        assert episode.log_prob_change[t] == pytest.approx(log_softmax(noisy)[a] - log_softmax(clean)[a], abs=1e-12)
        assert episode.noise_power[t] == pytest.approx(sum(float(xi @ xi) for xi in noise), rel=1e-12)
    weights = episode.log_prob_change / episode.noise_power
    expected = np.concatenate(
        [(x * weights) @ xi.T for x, xi in zip(trace.inputs, trace.noise, strict=True)], axis=None
    )
    np.testing.assert_allclose(engine.population.state["eligibility"], expected.ravel(), rtol=1e-9, atol=1e-12)
    grad = numeric_gradient(topology, before, trace)
    cosine = expected.ravel() @ grad / np.linalg.norm(expected) / np.linalg.norm(grad)
    assert cosine > 0.5  # one noise draw per step: an estimate along the gradient, not the gradient


def test_rmhl_acts_on_its_noisy_policy_and_sums_noise_times_pre_activity():
    engine, _, trace = first_episode("rmhl", **{"rmhl.sigma": 0.3})
    expected = np.concatenate([(x @ xi.T).ravel() for x, xi in zip(trace.inputs, trace.noise, strict=True)])
    np.testing.assert_allclose(engine.population.state["eligibility"], expected, rtol=1e-12)
    assert trace.feedback is None and trace.episode.log_prob_change is None


def test_the_return_baseline_starts_at_the_first_return_and_delta_is_normalised():
    engine = VectorEngine(control("reinforce", **{"reinforce.eta": 0.01}))
    rule = engine.simulation.rule
    weights = engine.population.weights.copy()
    first = engine.step()
    np.testing.assert_array_equal(engine.population.weights, weights)  # delta = 0 on the first episode
    assert rule.baseline == first.reward == first.records["return"] == -first.loss
    second = engine.step()
    assert rule.delta(second.reward) != 0 or second.reward == first.reward
    assert rule.baseline == pytest.approx(first.reward + 0.66 * (second.reward - first.reward))
    assert rule.delta(2 * rule.baseline) == pytest.approx(0.5)  # (R - Rbar) / |R|


def test_reinforce_learns_cartpole():
    engine = VectorEngine(control("reinforce", layers=(4, 32, 2), **{"reinforce.eta": 0.01, "network.init_range": 0.3}))
    returns = np.array([result.reward for result in engine.run(250)])
    assert returns[-50:].mean() > returns[:50].mean() + 15


@pytest.mark.parametrize("method", CONTROL_RULES)
def test_a_control_run_resumes_bit_for_bit(tmp_path, method):
    from synapse_sim.runner import run

    scenario = control(method, **{"run.iterations": 40, "run.checkpoint_every": 10})
    run(scenario, tmp_path / "straight", progress=False)
    run(scenario, tmp_path / "resumed", progress=False, interrupt_at=17)
    run(None, tmp_path / "resumed", resume=True, progress=False)
    with np.load(tmp_path / "straight" / "checkpoint.npz") as a, np.load(tmp_path / "resumed" / "checkpoint.npz") as b:
        for key in a.files:
            if key != "wall_time":
                np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        assert "engine_return_baseline" in a.files


def test_bad_control_input_is_refused_by_name():
    with pytest.raises(ScenarioError, match=r"'CartPol-v1' is not a registered Gymnasium environment.*CartPole-v1"):
        VectorEngine(control("reinforce", **{"control.env": "CartPol-v1"}))
    with pytest.raises(ScenarioError, match=r"Box action space.*discrete actions"):
        VectorEngine(control("reinforce", layers=(3, 6, 1), **{"control.env": "Pendulum-v1"}))
    with pytest.raises(ScenarioError, match=r"must be \[4, \.\.\., 2\]"):
        VectorEngine(control("nrl", layers=(4, 6, 3)))
    with pytest.raises(ScenarioError, match=r"set task\.name = 'control'"):
        Scenario().with_overrides({"run.method": "rmhl"})
    with pytest.raises(ScenarioError, match="episodes, not trials, noisy minibatches"):
        VectorEngine(control("node_perturbation")).step()


class BrokenCartPole(gymnasium.Wrapper):
    """CartPole whose observation turns bad at time step 5 of its 4th episode on (NaN, or one number short)."""

    def __init__(self, how: str):
        super().__init__(gymnasium.make("CartPole-v1"))
        self.how, self.t, self.episodes = how, 0, 0

    def reset(self, **kwargs):
        self.t = 0
        self.episodes += 1
        return self.env.reset(**kwargs)

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        if self.t >= 5 and self.episodes >= 4:
            observation = np.full(4, np.nan) if self.how == "nan" else observation[:3]
        return observation, reward, terminated, truncated, info


@pytest.fixture(scope="module")
def broken_envs():
    for how in ("nan", "short"):
        gymnasium.register(f"BrokenCartPole-{how}-v0", entry_point=BrokenCartPole, kwargs={"how": how})
    yield
    for how in ("nan", "short"):
        gymnasium.registry.pop(f"BrokenCartPole-{how}-v0", None)


def test_an_environment_that_returns_nan_stops_the_run_clearly_and_keeps_its_checkpoint(tmp_path, broken_envs):
    from synapse_sim.folder import RunError
    from synapse_sim.runner import run

    keys = {"control.env": "BrokenCartPole-nan-v0", "run.iterations": 5, "run.checkpoint_every": 1}
    with pytest.raises(RunError, match=r"BrokenCartPole-nan-v0 returned a non-finite observation .* at time step 5"):
        run(control("reinforce", **keys), tmp_path / "r", progress=False)  # episodes: 1 at the start, then steps
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"].startswith("failed") and summary["steps"] == 2
    with np.load(tmp_path / "r" / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["engine_step"]) == 2 and np.isfinite(checkpoint["engine_weights"]).all()
    with pytest.raises(ScenarioError, match=r"returned an observation of 3 numbers .* takes 4 inputs"):
        VectorEngine(control("reinforce", **{"control.env": "BrokenCartPole-short-v0"})).run(3)


def test_the_control_study_writes_its_table_and_reads_back_its_runs(tmp_path, capsys):
    from synapse_sim.cli import main
    from synapse_sim.studies.control import running_mean, solved_at, split_sets

    out = tmp_path / "study"
    args = ["control", "--rules", "reinforce", "nrl", "--seeds", "2", "--episodes", "30", "--networks", "8"]
    args += ["--set", "nrl.eta=0.5", "--set", "network.init_range=0.3", "--processes", "1", "--out", str(out)]
    assert main(args) == 0
    rows = json.loads((out / "control.json").read_text())
    assert [(r["rule"], r["hidden units"], r["episodes"], r["solved"]) for r in rows] == [
        ("reinforce", "8", 30, "0/2"),
        ("nrl", "8", 30, "0/2"),
    ]
    nrl = Scenario.load(out / "8" / "nrl" / "seed1" / "scenario.toml")
    assert (
        nrl["control"]["stop_when_solved"]
        and nrl["nrl"]["eta"] == 0.5
        and nrl["network"]["init_range"] == 0.3
        and nrl["network"]["layers"] == [4, 8, 2]
    )
    for name in ("control.md", "control.csv", "control.png"):
        assert (out / name).stat().st_size > 100
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("checkpoint.npz")}
    assert main(args) == 0 and {p: p.stat().st_mtime_ns for p in out.rglob("checkpoint.npz")} == stamp
    np.testing.assert_allclose(running_mean(np.arange(1.0, 6.0), window=2), [1, 1.5, 2.5, 3.5, 4.5])
    assert solved_at(np.r_[np.zeros(50), np.full(150, 500.0)], 475) == 145  # episodes 46-145: 95 of 100 at 500
    assert split_sets(["nrl.eta=1", "seed=2", "synapse.alpha_s=0.1"], ["nrl", "synaptic_rl"]) == (
        ["seed=2"],
        {"nrl": ["nrl.eta=1"], "synaptic_rl": ["synapse.alpha_s=0.1"]},
    )
    with pytest.raises(ScenarioError, match=r"\[rmhl\] belongs to rule 'rmhl', which this study does not run"):
        split_sets(["rmhl.eta=1"], ["nrl"])


def test_the_dashboard_opens_a_control_run_folder_and_continues_it_exactly(tmp_path):
    from synapse_sim.dashboard.model import DashboardModel
    from synapse_sim.runner import run

    scenario = control("nrl", **{"run.iterations": 3, "nrl.eta": 0.5})
    run(scenario, tmp_path / "r", progress=False)
    model = DashboardModel(run_folder=tmp_path / "r")
    assert model.problems == [] and model.steps == 3
    model.step()
    straight = VectorEngine(scenario.with_overrides({"run.iterations": 4}))
    straight.run(4)
    np.testing.assert_array_equal(model.weight_vector(), straight.population.weights)
    assert model.episode.record.reset_seed is not None and model.episode.step == 4


def test_a_run_that_solves_its_task_stops_and_a_study_counts_it_finished(tmp_path):
    from synapse_sim.runner import run
    from synapse_sim.studies.jobs import Job, finished, run_job

    gymnasium.register(
        "EasyCartPole-v0",
        entry_point="gymnasium.envs.classic_control:CartPoleEnv",
        max_episode_steps=500,
        reward_threshold=15.0,  # a random policy's mean is about 22
    )
    try:
        keys = {"control.env": "EasyCartPole-v0", "control.stop_when_solved": True, "run.iterations": 400}
        scenario = control("rmhl", **keys)
        summary = run(scenario, tmp_path / "r", progress=False)
        with np.load(tmp_path / "r" / "history.npz") as history:
            returns = history["return"]
        assert summary["steps"] == returns.size == 100  # of 400: the first 100 episodes average above 15
        assert summary["stopped_by"].startswith("solved: mean return") and returns.mean() >= 15
        assert finished(summary, scenario) and run_job(Job(scenario, tmp_path / "r")) == summary
        longer = run(control("rmhl", **{**keys, "control.stop_when_solved": False}), tmp_path / "s", progress=False)
        assert longer["steps"] == 400 and "stopped_by" not in longer
    finally:
        gymnasium.registry.pop("EasyCartPole-v0", None)


def test_synaptic_rl_on_control_is_rewarded_when_the_return_beats_its_running_average():
    keys = {"synapse.reward_baseline": "running_average", "synapse.baseline_rate": 0.2, "synapse.alpha_s": 0.01}
    engine = VectorEngine(control("synaptic_rl", **keys))
    results = engine.run(30)
    returns = [r.records["return"] for r in results]
    average, expected = None, []
    for r in returns:
        expected.append(-1 if average is None else (1 if r > average else -1))
        average = r if average is None else average + 0.2 * (r - average)
    assert [r.reward for r in results] == expected and 1 in expected
    assert engine.simulation.evaluations == 30  # one episode per step: no reference episodes
    paper = VectorEngine(control("synaptic_rl", **{"synapse.alpha_s": 0.01}))
    paper.run(5)
    assert paper.simulation.evaluations == 10  # the paper's baseline replays each episode with the old weights


def test_a_study_stops_at_the_run_that_was_interrupted_and_resumes_it(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "study"
    args = [sys.executable, "-m", "synapse_sim", "control", "--rules", "reinforce", "rmhl", "--seeds", "2"]
    args += ["--episodes", "100000", "--networks", "8", "--processes", "1", "--lockstep", "1", "--out", str(out)]
    started = out / "8" / "reinforce" / "seed0" / "run.lock"
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert started.exists(), "the first run did not start within a minute"
        time.sleep(2.0)  # into its episodes
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and "run the same command again to resume" in err
    summary = json.loads((out / "8" / "reinforce" / "seed0" / "summary.json").read_text())
    assert (
        summary["status"].startswith("interrupted") and (out / "8" / "reinforce" / "seed0" / "checkpoint.npz").exists()
    )
    assert not (out / "8" / "reinforce" / "seed1").exists() and not (out / "8" / "rmhl").exists()


@pytest.mark.parametrize("how", ["SIGTERM to the study", "Ctrl-C to the process group"])
def test_a_parallel_study_stops_its_running_jobs_and_starts_no_queued_one(tmp_path, how):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "study"
    args = [sys.executable, "-m", "synapse_sim", "control", "--rules", "reinforce", "rmhl", "--seeds", "2"]
    args += ["--episodes", "100000", "--networks", "8", "--processes", "2", "--out", str(out)]
    running = [out / "8" / "reinforce" / f"seed{seed}" for seed in (0, 1)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not all((f / "run.lock").exists() for f in running) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all((f / "run.lock").exists() for f in running), "the two first runs did not start within 90 s"
        time.sleep(2.0)
        if how == "SIGTERM to the study":
            process.send_signal(signal.SIGTERM)
        else:
            os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and "run the same command again to resume" in err, err
    for folder in running:
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["status"].startswith("interrupted") and (folder / "checkpoint.npz").exists(), folder
        assert not (folder / "run.lock").exists()
    assert not (out / "8" / "rmhl").exists(), "a queued job started after the interruption"


def test_network_init_seed_starts_every_run_seed_from_one_draw_as_the_nrl_code_does():
    def weights(**keys):
        return VectorEngine(control("nrl", **keys)).population.weights

    np.testing.assert_array_equal(weights(**{"run.seed": 3, "network.init_seed": 0}), weights(**{"run.seed": 0}))
    assert not np.array_equal(weights(**{"run.seed": 3}), weights(**{"run.seed": 0}))
    with pytest.raises(ScenarioError, match="init_seed"):
        control("nrl", **{"network.init_seed": -2})
