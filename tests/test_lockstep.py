"""Runs in lockstep (synapse_sim.lockstep): control episodes of several runs stepped together,
each run's results equal to its run alone, bit for bit; errors and interruptions stay per run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest

from synapse_sim import VectorEngine
from synapse_sim.lockstep import gather, together

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
from make_control_golden import CASES, scenario_of


def doubled(items):
    doubled.calls.append(list(items))
    return [ValueError(f"bad {i}") if i < 0 else 2 * i for i in items]


doubled.calls = []


def test_gather_batches_the_items_of_parked_runs_by_key_and_keeps_errors_per_run():
    doubled.calls.clear()
    assert gather(doubled, "a", 4) == 8 and doubled.calls == [[4]]  # outside together(): alone

    def run(values, key):
        return [gather(doubled, key, v) for v in values]

    doubled.calls.clear()
    outcomes = together([lambda: run([1, 2, 3], "a"), lambda: run([10, -1], "a"), lambda: run([100], "b")])
    assert outcomes[0] == [2, 4, 6] and outcomes[2] == [200]
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "bad -1"
    # round 1: the "a" runs together, "b" on its own; round 2: the second run's error ends it
    assert doubled.calls == [[1, 10], [100], [2, -1], [3]]


@pytest.mark.parametrize("name", list(CASES))
def test_runs_in_lockstep_equal_their_runs_alone(name):
    """Three seeds of every control rule and variant: checkpoint and per-episode returns, bit for bit."""
    scenarios = [scenario_of(name).with_overrides({"run.seed": seed}) for seed in (3, 4, 5)]
    steps = CASES[name][1]
    alone = []
    for scenario in scenarios:
        engine = VectorEngine(scenario)
        alone.append(([r.records["return"] for r in engine.run(steps)], engine.checkpoint()))
    engines = [VectorEngine(scenario) for scenario in scenarios]
    outcomes = together([lambda e=e: e.run(steps) for e in engines])
    for (returns, state), engine, results in zip(alone, engines, outcomes, strict=True):
        assert [r.records["return"] for r in results] == returns
        together_state = engine.checkpoint()
        assert state.keys() == together_state.keys()
        for key in state:
            np.testing.assert_array_equal(state[key], together_state[key], err_msg=key)


def test_episodes_of_runs_in_lockstep_are_batched(monkeypatch):
    from synapse_sim.tasks import control, episodes

    sizes = []

    def counting(requests):
        sizes.append(len(requests))
        return episodes.run_episodes(requests)

    monkeypatch.setattr(control, "run_episodes", counting)
    engines = [VectorEngine(scenario_of("nrl").with_overrides({"run.seed": seed})) for seed in range(4)]
    together([lambda e=e: e.run(5) for e in engines])
    assert sizes == [1] * 4 + [4] * 5  # each engine's first evaluation when built, alone; then 5 steps together


class NanCartPole(gymnasium.Wrapper):
    """CartPole whose observation becomes NaN at time step 3 of its 2nd episode."""

    def __init__(self):
        super().__init__(gymnasium.make("CartPole-v1"))
        self.t, self.episodes = 0, 0

    def reset(self, **kwargs):
        self.t, self.episodes = 0, self.episodes + 1
        return self.env.reset(**kwargs)

    def step(self, action):
        observation, *rest = self.env.step(action)
        self.t += 1
        return (np.full(4, np.nan) if self.t >= 3 and self.episodes >= 2 else observation), *rest


def test_an_environment_that_fails_one_run_in_lockstep_leaves_the_others_exact():
    from synapse_sim.tasks.episodes import EnvironmentValueError

    gymnasium.register("NanCartPole-v0", entry_point=NanCartPole)
    try:
        good = scenario_of("reinforce")
        engines = [VectorEngine(good), VectorEngine(good.with_overrides({"control.env": "NanCartPole-v0"}))]
        outcomes = together([lambda e=e: e.run(6) for e in engines])
    finally:
        gymnasium.registry.pop("NanCartPole-v0", None)
    assert isinstance(outcomes[1], EnvironmentValueError) and "at time step 3" in str(outcomes[1])
    alone = VectorEngine(good)
    alone.run(6)
    np.testing.assert_array_equal(engines[0].population.weights, alone.population.weights)


def test_a_control_study_in_lockstep_writes_what_it_writes_one_run_at_a_time(tmp_path):
    from synapse_sim.studies.control import control_study
    from synapse_sim.studies.jobs import lockstep_groups

    kwargs = dict(episodes=25, networks=((8,),), processes=1, sets=["control.stop_when_solved=false"])
    rules, seeds = ["reinforce", "nrl"], [0, 1, 2]
    _, one = control_study("CartPole-v1", rules, seeds, tmp_path / "one", lockstep=1, **kwargs)
    _, three = control_study("CartPole-v1", rules, seeds, tmp_path / "three", **kwargs)  # default: 3 seeds at once
    strip = ("wall_time_s",)
    assert [{k: v for k, v in r.items() if k not in strip} for r in one] == [
        {k: v for k, v in r.items() if k not in strip} for r in three
    ]
    for rule in rules:
        for seed in seeds:
            for name in ("history.npz", "checkpoint.npz"):
                a, b = (np.load(tmp_path / root / "8" / rule / f"seed{seed}" / name) for root in ("one", "three"))
                assert a.files == b.files
                for key in a.files:
                    if key != "wall_time":
                        np.testing.assert_array_equal(a[key], b[key], err_msg=f"{rule} seed {seed} {name} {key}")
    groups = lockstep_groups(list(range(5)), 2, group_by=lambda job: job < 3)
    assert groups == [[0, 1], [2], [3, 4]]
    assert lockstep_groups(list(range(5)), 2, group_by=lambda job: job % 2) == [[0, 2], [4], [1, 3]]


def test_an_interrupted_study_in_lockstep_checkpoints_every_run_and_resumes_them_exactly(tmp_path):
    import os
    import signal
    import subprocess
    import time

    out = tmp_path / "study"
    args = [sys.executable, "-m", "synapse_sim", "control", "--rules", "nrl", "--seeds", "3", "--episodes", "300"]
    args += ["--networks", "8", "--processes", "1", "--set", "control.stop_when_solved=false", "--out", str(out)]
    folders = [out / "8" / "nrl" / f"seed{seed}" for seed in range(3)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not all((f / "run.lock").exists() for f in folders) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all((f / "run.lock").exists() for f in folders), "the three runs did not start together within 60 s"
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
    assert process.returncode == 130 and "run the same command again to resume" in err, err
    for folder in folders:
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["status"] == "interrupted (SIGINT)" and 0 < summary["steps"] < 300, (folder, summary)
    resumed = subprocess.run(args, check=False, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    straight = tmp_path / "straight"
    subprocess.run([*args[:-1], str(straight), "--lockstep", "1"], capture_output=True, check=True, timeout=300)
    for seed, folder in enumerate(folders):
        a, b = np.load(folder / "history.npz"), np.load(straight / "8" / "nrl" / f"seed{seed}" / "history.npz")
        for key in ("return", "episode_length", "loss"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"seed {seed} {key}")
        with (
            np.load(folder / "checkpoint.npz") as c,
            np.load(straight / "8" / "nrl" / f"seed{seed}" / "checkpoint.npz") as d,
        ):
            np.testing.assert_array_equal(c["engine_weights"], d["engine_weights"])
