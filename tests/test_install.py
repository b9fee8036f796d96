"""The package outside the checkout: a non-editable install in a fresh venv, used from an empty folder.

The wheel is built from this checkout without network (setuptools from the test venv); the
fresh venv sees the test venv's dependencies through a .pth line, so nothing is downloaded.
Nothing may be written inside the installed package: the user's policies go to the user folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--set", "run.iterations=100"]
SKIP = (".git", ".venv", "runs", "build", "*.egg-info", "__pycache__", "node_modules", ".pytest_cache", ".ruff_cache")


def test_the_wheel_lists_every_package():
    """pyproject names the packages by hand (scenarios/ maps to synapse_sim.scenarios): none may be missed."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "synapse_sim").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    assert listed == found | {"synapse_sim.scenarios"}


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with synapse_sim installed from a wheel of this checkout (not editable)."""
    pytest.importorskip("setuptools", reason="the test extras install setuptools to build the wheel offline")
    root = tmp_path_factory.mktemp("install")
    source, wheels = root / "source", root / "wheels"  # a copy: the build leaves build/ and *.egg-info behind
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*SKIP))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        cwd=root,
        capture_output=True,
    )
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "dependencies_from_test_venv.pth").write_text(sysconfig.get_path("purelib") + "\n")
    wheel = next(wheels.glob("synapse_sim-*.whl"))
    subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True
    )
    return venv, site


def _cli(venv: Path, cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNAPSE_SIM_", "PYTHON"))}
    env["SYNAPSE_SIM_HOME"] = str(home)
    return subprocess.run(
        [str(venv / "bin" / "synapse-sim"), *args],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_installed_package_works_from_an_empty_folder(installed, tmp_path):
    venv, site = installed
    package = site / "synapse_sim"
    assert (package / "scenarios" / "decision_boundary_adaptive.toml").is_file()
    before = _snapshot(site)
    work, home = tmp_path / "empty", tmp_path / "home"
    work.mkdir()

    listing = _cli(venv, work, home, "scenarios")
    assert listing.returncode == 0, listing.stderr
    names = [line.split(":")[0] for line in listing.stdout.splitlines() if not line.startswith("(")]
    assert "decision_boundary_adaptive" in names and "notmnist_32hu" in names
    assert str(package / "scenarios") in listing.stdout

    run = _cli(venv, work, home, "run", "decision_boundary_adaptive", "--quiet", "--out", "run", *FAST)
    assert run.returncode == 0, run.stderr
    summary = json.loads((work / "run" / "summary.json").read_text())
    assert summary["steps"] == 100 and summary["status"] == "completed"

    learn = _cli(
        venv,
        work,
        home,
        "learn-policy",
        "--seeds",
        "0",
        "--screen-seeds",
        "10",
        "--screen-iterations",
        "50",
        "--processes",
        "1",
        "--out",
        "learn",
        "--install",
        "mine",
        *FAST,
    )
    assert learn.returncode == 0, learn.stderr
    assert "policy.file = 'user:mine'" in learn.stdout
    assert (home / "policies" / "mine.npz").is_file() and (home / "policies" / "mine.json").is_file()

    static = _cli(
        venv, work, home, "run", "decision_boundary_static", "--quiet", "--out", "static", "--set",
        "policy.file='user:mine'", *FAST,
    )  # fmt: skip
    assert static.returncode == 0, static.stderr
    assert "user:mine" in (work / "static" / "scenario.toml").read_text()

    learned = _cli(
        venv, work, home, "run", "decision_boundary_static", "--quiet", "--out", "learned", "--set",
        "rule=learned_momentum_real", *FAST,
    )  # fmt: skip
    assert learned.returncode == 0, learned.stderr  # a shipped rule file, by name, from the installed package
    assert 'method = "momentum_search"' in (work / "learned" / "scenario.toml").read_text()

    after = _snapshot(site)
    written = sorted(k for k in after if before.get(k) != after[k] and "__pycache__" not in k)
    assert written == [], f"files written inside site-packages: {written}"


def test_a_missing_user_policy_says_where_it_looked(installed, tmp_path):
    venv, _ = installed
    result = _cli(
        venv, tmp_path, tmp_path / "home", "run", "decision_boundary_static", "--quiet", "--out", "x", "--set",
        "policy.file='user:nope'", *FAST,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no user policy 'nope'" in result.stderr and str(tmp_path / "home" / "policies") in result.stderr


def test_an_unknown_scenario_name_lists_the_shipped_ones(installed, tmp_path):
    venv, _ = installed
    result = _cli(venv, tmp_path, tmp_path / "home", "run", "decision_boundary_adaptve")
    assert result.returncode == 2
    assert "not found" in result.stderr and "decision_boundary_adaptive" in result.stderr
