"""Plug-ins from outside the package reach every process: the CLI, --resume, study workers, policy files.

Each test works from an empty folder holding only what a user would write (``my_features.py``
beside ``drift.toml``), runs ``python -m synapse_sim`` there as a fresh process, and checks the
outcome, not just the exit code. Installed plug-ins are exercised through a package with real
``entry_points.txt`` metadata on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import write_plugin_folder

from synapse_sim import Scenario
from synapse_sim.plugins import PluginError, resolve


def cli(*args, cwd, env=None, check=True) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONUNBUFFERED": "1"}
    environment |= env or {}
    done = subprocess.run(
        [sys.executable, "-m", "synapse_sim", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"synapse-sim {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def python(code: str, cwd, env=None, stdin: bool = False) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | (env or {})
    command = [sys.executable, "-"] if stdin else [sys.executable, "-c", code]
    return subprocess.run(
        command,
        input=code if stdin else None,
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def read_npz(path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.fixture
def folder(tmp_path) -> Path:
    write_plugin_folder(tmp_path / "work")
    return tmp_path / "work"


def test_a_feature_next_to_the_scenario_runs_through_the_cli_and_its_folder_remembers_it(folder):
    cli("run", "drift.toml", "--out", "r", "--quiet", cwd=folder)
    saved = Scenario.load(folder / "r" / "scenario.toml")
    assert saved.plugins == (str((folder / "my_features.py").resolve()),)
    assert saved["state"]["features"][0] == {"name": "net_drift", "k": 4}
    meta = json.loads((folder / "r" / "policy.json").read_text())
    assert meta["state_space"][0] == {"name": "net_drift", "k": 4}
    assert meta["plugins"] == [str((folder / "my_features.py").resolve())]
    summary = json.loads((folder / "r" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["steps"] == 120


def test_resume_from_another_folder_imports_the_plugin_and_continues_exactly(folder, tmp_path):
    cli("run", "drift.toml", "--out", "straight", "--quiet", cwd=folder)
    interrupted = python(
        "from synapse_sim import Scenario\nfrom synapse_sim.runner import run\n"
        "print(run(Scenario.load('drift.toml'), 'part', progress=False, interrupt_at=50)['status'])",
        cwd=folder,
    )
    assert interrupted.returncode == 0, interrupted.stderr
    assert interrupted.stdout.strip().startswith("interrupted")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cli("run", "--resume", str(folder / "part"), "--quiet", cwd=elsewhere)
    straight, resumed = read_npz(folder / "straight" / "checkpoint.npz"), read_npz(folder / "part" / "checkpoint.npz")
    straight.pop("wall_time"), resumed.pop("wall_time")
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert np.array_equal(straight[key], resumed[key]), key
    assert np.array_equal(
        read_npz(folder / "straight" / "policy.npz")["q"], read_npz(folder / "part" / "policy.npz")["q"]
    )


def test_learn_policy_with_two_worker_processes_uses_the_plugin(folder):
    done = cli(
        "learn-policy",
        "--adaptive",
        "drift.toml",
        "--static",
        "drift_static.toml",
        "--seeds",
        "0",
        "1",
        "--screen-seeds",
        "10",
        "11",
        "--processes",
        "2",
        "--out",
        "lp",
        cwd=folder,
    )
    assert "chosen:" in done.stdout
    for seed in (0, 1):
        meta = json.loads((folder / "lp" / "learn" / f"seed{seed}" / "policy.json").read_text())
        assert meta["state_space"][0]["name"] == "net_drift"
    screens = sorted((folder / "lp" / "screen").rglob("summary.json"))
    assert len(screens) == 4 and all(json.loads(p.read_text())["status"] == "completed" for p in screens)


def test_unknown_names_say_which_plugin_to_import_and_how(folder):
    (folder / "forgot.toml").write_text((folder / "drift.toml").read_text().replace('plugins = ["my_features"]', ""))
    done = cli("run", "forgot.toml", "--out", "x", cwd=folder, check=False)
    assert done.returncode == 2
    assert "unknown state feature 'net_drift'" in done.stderr
    assert 'plugins = ["my_features"]' in done.stderr and "synapse_sim.features" in done.stderr
    assert not (folder / "x").exists()

    cli("run", "drift.toml", "--out", "r", "--quiet", cwd=folder)
    (folder / "reuse.toml").write_text('[policy]\nmode = "static"\nfile = "r/policy"\n')
    done = cli("run", "reuse.toml", "--out", "y", cwd=folder, check=False)
    assert done.returncode == 2 and "corrupt" not in done.stderr
    assert "learned with the state feature 'net_drift'" in done.stderr
    assert str((folder / "my_features.py").resolve()) in done.stderr

    (folder / "typo.toml").write_text('plugins = ["my_featurez"]\n')
    done = cli("run", "typo.toml", cwd=folder, check=False)
    assert done.returncode == 2 and "plug-in 'my_featurez' not found" in done.stderr and str(folder) in done.stderr


def test_plugin_specs_resolve_next_to_the_scenario_then_on_the_path(tmp_path):
    (tmp_path / "mine.py").write_text("")
    assert resolve("mine", tmp_path) == str((tmp_path / "mine.py").resolve())
    assert resolve("./mine.py", tmp_path) == str((tmp_path / "mine.py").resolve())
    assert resolve("json", tmp_path) == "json"  # a module on the path
    with pytest.raises(PluginError, match="not found"):
        resolve("no_such_module_here", tmp_path)
    with pytest.raises(PluginError, match="a module name or a path"):
        resolve("", tmp_path)
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    (tmp_path / "b.toml").write_text('plugins = ["broken"]\n')
    with pytest.raises(PluginError, match="failed to import: RuntimeError: boom"):
        Scenario.load(tmp_path / "b.toml")
    (tmp_path / "c.toml").write_text('plugins = "mine"\n')
    with pytest.raises(PluginError, match="must be a list"):
        Scenario.load(tmp_path / "c.toml")


MAIN_STUDY = """
import json
from pathlib import Path

import numpy as np

from synapse_sim import Feature, Scenario, register_feature
from synapse_sim.studies.experiments import Job, run_jobs


@register_feature
class Parity(Feature):
    name = "parity_of_actions"
    cardinality = 2
    action_memory = 2

    def local(self, ctx):
        return (ctx.action_history[0] + ctx.action_history[1]) % 2

    def batch(self, ctx):
        return (ctx.action_history[:, 0].astype(np.int64) + ctx.action_history[:, 1]) % 2


base = Scenario().with_overrides({"layers": [2, 6, 1], "n_points": 200, "iterations": 80,
                                  "state.features": [{"name": "parity_of_actions"}, {"name": "last_rewards", "n": 2}]})
jobs = [Job(base.with_overrides({"run.seed": s}), Path(OUT) / f"seed{s}") for s in (0, 1)]
print(json.dumps([r["final_loss"] for r in run_jobs(jobs, PROCESSES)]))
"""


@pytest.mark.parametrize("stdin", [True, False], ids=["stdin", "script"])
def test_a_feature_defined_in_the_main_program_reaches_spawned_study_workers(tmp_path, stdin):
    """No ``if __name__ == '__main__'`` guard, even from stdin: the workers never re-run the main program."""
    results = {}
    for processes in (1, 2):
        code = MAIN_STUDY.replace("OUT", repr(f"p{processes}")).replace("PROCESSES", str(processes))
        if not stdin:
            (tmp_path / f"study{processes}.py").write_text(code)
            code = f"import runpy; runpy.run_path('study{processes}.py', run_name='__main__')"
        done = python(code, cwd=tmp_path, stdin=stdin)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stderr.count("Traceback") == 0
        results[processes] = json.loads(done.stdout.strip().splitlines()[-1])
    assert results[1] == results[2]


PACKAGE = '''
"""An installed plug-in package: a feature, a rule and a task, declared as entry points."""
import functools

import numpy as np

from synapse_sim import Feature
from synapse_sim.rules.spsa import SPSA
from synapse_sim.scenario import Field
from synapse_sim.tasks import ClassificationTask
from synapse_sim.randomness import generator


class WeightMagnitude(Feature):
    name = "weight_magnitude"
    cardinality = 2

    def local(self, ctx):
        return int(abs(ctx.weight) > 0.5)

    def batch(self, ctx):
        return (np.abs(ctx.weight) > 0.5).astype(np.int64)


class HalfSPSA(SPSA):
    name = "half_spsa"
    summary = "SPSA with half the step (a test plug-in)"
    sections = {"half_spsa": {"a": Field("float", 0.01, "step", low=0.0), "c": Field("float", 0.01, "size", low=1e-12)}}

    @classmethod
    def from_scenario(cls, scenario, topology, dtype):
        return cls(a=scenario["half_spsa"]["a"] / 2, c=scenario["half_spsa"]["c"])


SECTIONS = {"blobs": {"spread": Field("float", 0.5, "blob standard deviation", low=0.0)}}


def build_blobs(scenario, dtype):
    rng = np.random.default_rng(scenario.data_seed)
    centres = np.array([[2.0, 0.0], [-2.0, 0.0]])
    y = rng.integers(0, 2, 400)
    x = centres[y] + rng.normal(scale=scenario["blobs"]["spread"], size=(400, 2))
    return ClassificationTask(x[:300], y[:300], x[300:], y[300:], functools.partial(generator, 0, 7), batch_size=100,
                              batch_interval=10, hidden_activation="tanh", dtype=np.dtype(dtype))


build_blobs.sections = SECTIONS
'''

ENTRY_POINTS = """[synapse_sim.features]
weight_magnitude = plugpkg:WeightMagnitude

[synapse_sim.rules]
half_spsa = plugpkg:HalfSPSA

[synapse_sim.tasks]
blobs = plugpkg:build_blobs
"""


@pytest.fixture
def installed(tmp_path) -> dict:
    """A package with entry points, importable through PYTHONPATH (what `pip install` leaves in site-packages)."""
    site = tmp_path / "site"
    (site / "plugpkg").mkdir(parents=True)
    (site / "plugpkg" / "__init__.py").write_text(textwrap.dedent(PACKAGE))
    info = site / "plugpkg-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugpkg\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return {"PYTHONPATH": str(site)}


def test_installed_entry_points_provide_features_rules_and_tasks(tmp_path, installed):
    (tmp_path / "feature.toml").write_text(
        '[state]\nfeatures = [{name = "weight_magnitude"}, {name = "last_rewards", n = 2}]\n'
        "[network]\nlayers = [2, 4, 1]\n[run]\niterations = 30\n"
    )
    cli("run", "feature.toml", "--out", "f", "--quiet", cwd=tmp_path, env=installed)
    assert json.loads((tmp_path / "f" / "policy.json").read_text())["state_space"][0] == {"name": "weight_magnitude"}

    (tmp_path / "rule.toml").write_text(
        '[task]\nname = "blobs"\n[blobs]\nspread = 0.3\n[network]\nlayers = [2, 4, 2]\n'
        'hidden_activation = "tanh"\n[run]\nmethod = "half_spsa"\niterations = 40\n[half_spsa]\na = 0.2\n'
    )
    cli("run", "rule.toml", "--out", "r", "--quiet", cwd=tmp_path, env=installed)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["rule"] == "half_spsa" and summary["steps"] == 40 and summary["evaluations"] == 80
    assert json.loads((tmp_path / "r" / "rule.json").read_text())["params"]["a"] == pytest.approx(0.1)

    (tmp_path / "wrong.toml").write_text("[blobs]\nspread = 0.3\n[run]\niterations = 5\n")
    done = cli("run", "wrong.toml", cwd=tmp_path, env=installed, check=False)
    assert done.returncode == 2 and "'blobs.spread' belongs to the task 'blobs'" in done.stderr

    done = cli("run", "rule.toml", "--out", "z", cwd=tmp_path, check=False)  # not installed
    assert done.returncode == 2 and "synapse_sim.tasks" in done.stderr and "'blobs' is not a known task" in done.stderr


def test_an_entry_point_that_fails_to_import_names_its_package(tmp_path, installed):
    (Path(installed["PYTHONPATH"]) / "plugpkg" / "__init__.py").write_text("raise ImportError('missing dependency')\n")
    (tmp_path / "s.toml").write_text('[state]\nfeatures = [{name = "weight_magnitude"}]\n')
    done = cli("run", "s.toml", cwd=tmp_path, env=installed, check=False)
    assert done.returncode == 2
    assert "comes from plugpkg" in done.stderr and "missing dependency" in done.stderr
