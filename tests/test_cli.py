import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import mesa
import numpy as np
import pytest

from synapse_sim.cli import main
from synapse_sim.model import SynapseModel

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "scenarios" / "decision_boundary_adaptive.toml")


def test_run_writes_a_complete_results_folder(tmp_path, capsys):
    code = main(
        [
            "run",
            ADAPTIVE,
            "--iterations",
            "40",
            "--seed",
            "3",
            "--set",
            "network.layers=[2, 6, 1]",
            "--out",
            str(tmp_path / "r"),
            "--quiet",
        ]
    )
    assert code == 0
    files = {p.name for p in (tmp_path / "r").iterdir()}
    assert files >= {
        "scenario.toml",
        "summary.json",
        "history.npz",
        "policy.npz",
        "policy.json",
        "checkpoint.npz",
        "figure.png",
        "curves.png",
    }
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 40
    assert summary["parameters"]["run"]["seed"] == 3 and summary["parameters"]["network"]["layers"] == [2, 6, 1]
    assert summary["wall_time_s"] > 0 and 0 <= summary["final_accuracy"] <= 1
    with np.load(tmp_path / "r" / "history.npz", allow_pickle=False) as history:
        assert history["loss"].shape == (40,) and set(np.unique(history["reward"])) <= {-1.0, 1.0}
    assert (tmp_path / "r" / "figure.png").read_bytes()[:4] == b"\x89PNG"
    assert '"final_accuracy"' in capsys.readouterr().out


def test_bad_scenario_key_exits_with_message(capsys):
    code = main(["run", ADAPTIVE, "--set", "policy.epsilon=1.5"])
    assert code == 2
    assert "'policy.epsilon' = 1.5 is invalid" in capsys.readouterr().err


def test_missing_scenario_file(capsys):
    assert main(["run", "nowhere.toml"]) == 2
    assert "scenario nowhere.toml not found" in capsys.readouterr().err


def test_sigterm_writes_checkpoint_and_resume_finishes_exactly(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    common = ["--set", "network.layers=[2, 30, 1]", "--set", "run.checkpoint_every=0", "--quiet"]
    out = tmp_path / "r"
    proc = subprocess.Popen(
        [sys.executable, "-m", "synapse_sim", "run", ADAPTIVE, "--iterations", "200000", "--out", str(out), *common],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while not (out / "scenario.toml").exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted (SIGTERM)"
    done = summary["steps"]
    assert 0 < done < 200000
    # twice the steps done: the averaging window (after half of run.iterations) starts where the run stopped
    assert main(["run", "--resume", str(out), "--set", f"run.iterations={2 * done}", "--quiet"]) == 0
    reference = tmp_path / "ref"
    assert main(["run", ADAPTIVE, "--iterations", str(2 * done), "--out", str(reference), *common]) == 0
    with np.load(out / "history.npz") as a, np.load(reference / "history.npz") as b:
        for key in ("loss", "accuracy", "reward", "decrement"):
            assert np.array_equal(a[key], b[key]), key
    for name in ("policy_final.npz", "policy.npz"):
        with np.load(out / name) as a, np.load(reference / name) as b:
            assert np.array_equal(a["q"], b["q"]), name


def test_mesa_batch_run():
    results = mesa.batch_run(
        SynapseModel,
        parameters={"layers": [[2, 5, 1]], "n_points": 100, "epsilon": [0.1, 0.25]},
        rng=[1, 2],
        max_steps=15,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    assert len(results) == 4
    assert {r["epsilon"] for r in results} == {0.1, 0.25}
    assert all(r["Step"] == 15 and np.isfinite(r["loss"]) for r in results)
    by_seed = {(r["epsilon"], r["seed"] if "seed" in r else r.get("rng")): r["loss"] for r in results}
    assert len(set(by_seed.values())) > 1


def test_learn_policy_with_set_installs_under_a_name(tmp_path, monkeypatch, capsys):
    """learn-policy learns with --set applied to both scenarios and installs the pick as 'user:NAME'."""
    from synapse_sim.rules.synaptic_rl.policy import SHIPPED_POLICY, read_policy_file, resolve_policy_path

    monkeypatch.setenv("SYNAPSE_SIM_HOME", str(tmp_path / "home"))
    shipped_before = sorted(SHIPPED_POLICY.parent.iterdir())
    streak = '[{name="last_actions",n=2},{name="last_rewards",n=2},{name="streak",cap=3}]'
    args = ["learn-policy", "--seeds", "0", "1", "--screen-seeds", "10", "--processes", "1"]
    args += ["--out", str(tmp_path / "learn"), "--install", "mine"]
    args += ["--set", f"state.features={streak}", "--set", "run.iterations=30", "--set", "network.layers=[2, 4, 1]"]
    assert main(args) == 0
    assert "policy.file = 'user:mine'" in capsys.readouterr().out
    assert resolve_policy_path("user:mine") == tmp_path / "home" / "policies" / "mine"
    q, meta = read_policy_file(resolve_policy_path("user:mine"))
    assert q.shape == (324, 3) and meta["state_space"][-1] == {"name": "streak", "cap": 3}
    assert meta["selected_by"]["screen_seeds"] == [10] and meta["selected_by"]["learned_on_seeds"] == [0, 1]
    assert "(chosen)" in meta["selected_by"]["report"]
    assert sorted(SHIPPED_POLICY.parent.iterdir()) == shipped_before

    elsewhere = tmp_path / "my_policies"
    args = [*args[: args.index("--out")], "--out", str(tmp_path / "learn2"), "--install", "other"]
    args += ["--install-dir", str(elsewhere), "--set", f"state.features={streak}", "--set", "network.layers=[2, 4, 1]"]
    assert main([*args, "--set", "run.iterations=20"]) == 0
    assert f"policy.file = '{elsewhere / 'other'}'" in capsys.readouterr().out
    assert read_policy_file(elsewhere / "other")[0].shape == (324, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--install-dir", "x"], "--install-dir needs --install NAME"),
        (["--install", "../evil"], "a policy name is letters"),
    ],
)
def test_learn_policy_refuses_a_bad_install_before_learning(tmp_path, capsys, args, message):
    assert main(["learn-policy", "--out", str(tmp_path / "learn"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "learn").exists()


def test_scenarios_lists_each_shipped_one_and_runs_by_name(tmp_path, capsys):
    assert main(["scenarios"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = {line.split(":")[0] for line in lines[:-1]}
    assert names == {p.stem for p in (ROOT / "scenarios").glob("*.toml")}
    assert all(len(line) < 180 for line in lines)
    out = tmp_path / "run"
    assert main(["run", "decision_boundary_adaptive", "--quiet", "--out", str(out), "--iterations", "20"]) == 0
    assert (out / "summary.json").is_file()


def test_shipped_streak_policy_matches_its_scenario(tmp_path, capsys):
    from synapse_sim import Scenario, VectorEngine

    scenario = Scenario.load(ROOT / "scenarios" / "notmnist_32hu_streak.toml")
    assert scenario["policy"]["file"] == "shipped:streak_static"
    engine = VectorEngine(
        scenario.with_overrides({"task.name": "decision_boundary", "network.layers": [2, 8, 1], "run.iterations": 5})
    )
    assert engine.simulation.rule.policy.q.shape == (324, 3) and engine.simulation.rule.policy.q.any()
    args = ["run", ADAPTIVE, "--out", str(tmp_path / "run"), "--set", "policy.file='shipped:nope'"]
    assert main([*args, "--set", "policy.mode='static'"]) != 0
    err = capsys.readouterr().err
    assert "no shipped policy 'nope'" in err and "streak_static" in err


def test_rules_lists_every_registered_rule_with_its_keys(capsys):
    from synapse_sim import RULES

    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    for name in RULES:
        assert f"{name}:" in out
    assert "spsa.a" in out and "node_perturbation.eta" in out and "policy.epsilon" in out


def test_run_with_another_rule_and_an_unknown_one(tmp_path, capsys):
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "decision_boundary_spsa.toml"
    assert main(["run", str(scenario), "--iterations", "30", "--quiet", "--out", str(tmp_path / "spsa")]) == 0
    assert (tmp_path / "spsa" / "rule.json").is_file()
    code = main(["run", str(scenario), "--set", "run.method=spsaa", "--out", str(tmp_path / "bad")])
    assert code == 2 and "did you mean 'spsa'" in capsys.readouterr().err


def test_learn_policy_never_replaces_an_installed_policy_unasked(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("SYNAPSE_SIM_HOME", str(home))
    (home / "policies").mkdir(parents=True)
    (home / "policies" / "mine.json").write_text("{}")
    assert main(["learn-policy", "--out", str(tmp_path / "learn"), "--install", "mine"]) == 2
    err = capsys.readouterr().err
    assert "already installed" in err and "--replace" in err
    assert (home / "policies" / "mine.json").read_text() == "{}" and not (tmp_path / "learn").exists()


def test_population_command_reports_the_shipped_policy_as_an_automaton(tmp_path, capsys):
    out = tmp_path / "population.md"
    args = ["--warmup", "100", "--steps", "60", "--perturbations", "100", "--damage-steps", "20", "--out", str(out)]
    assert main(["population", *args]) == 0
    text = capsys.readouterr().out
    assert out.read_text().strip() == text.strip()
    assert "| states reachable from the initial memory | 43 of 81 (38 unreachable) |" in text
    assert "| reachable states the policy visited (non-zero Q row) | 40 |" in text
    assert "`s81r43-22012100.00201211011112.0022010220102.20101`" in text
    flips = re.search(r"heal / latent / spread \| (\d+)% / (\d+)% / (\d+)% \(n = 100,", text)
    assert flips and abs(sum(map(int, flips.groups())) - 100) <= 1
    occupied = float(re.search(r"occupied states per step \| mean ([\d.]+)", text).group(1))
    assert 1 < occupied <= 9  # one shared reward history: at most 9 of the 81 states at a time
