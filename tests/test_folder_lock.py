"""``run.lock`` (issue #11): a second run into a folder is refused with the holder's PID, a stale lock is
reported and cleared, and a lock held in this process refuses a second writer."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import small_scenario

from synapse_sim import Scenario
from synapse_sim.runner import RunError, run

ROOT = Path(__file__).resolve().parents[1]
ADAPTIVE = str(ROOT / "scenarios" / "decision_boundary_adaptive.toml")


pytestmark = pytest.mark.usefixtures("user_home")  # a user folder of its own per test


# ---------------------------------------------------------------------------------- the lock
def _cli(*args):
    return [sys.executable, "-m", "synapse_sim", *map(str, args)]


def test_a_second_run_is_refused_and_a_stale_lock_is_reported_and_cleared(tmp_path):
    """Real processes: the second run into a folder is refused with the first one's PID; after kill -9
    of the first, a new run reports the stale lock, clears it, and resumes the run (from step 0: it
    had no checkpoint) exactly."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    out = tmp_path / "r"
    common = ["--set", "network.layers=[2, 30, 1]", "--set", "run.checkpoint_every=0", "--quiet"]
    first = subprocess.Popen(_cli("run", ADAPTIVE, "--iterations", 10**7, "--out", out, *common), env=env)
    try:
        deadline = time.time() + 60
        while not (out / "manifest.json").exists() and time.time() < deadline:
            time.sleep(0.05)
        assert (out / "run.lock").exists()
        for args in (("run", ADAPTIVE, "--out", out, *common), ("run", "--resume", out, "--quiet")):
            second = subprocess.run(_cli(*args), check=False, env=env, capture_output=True, text=True, timeout=120)
            assert second.returncode != 0
            assert f"is in use by another run (PID {first.pid}" in second.stderr, second.stderr
            assert "Traceback" not in second.stderr
        assert first.poll() is None, "the refused run must not disturb the first"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    assert (out / "run.lock").exists() and not (out / "checkpoint.npz").exists()
    third = subprocess.run(
        _cli("run", "--resume", out, "--set", "run.iterations=30", "--quiet"),
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert third.returncode == 0, third.stderr
    assert f"PID {first.pid}" in third.stderr and "stale and has been cleared" in third.stderr
    assert not (out / "run.lock").exists()
    reference = run(
        Scenario.load(ADAPTIVE).with_overrides({"network.layers": [2, 30, 1], "run.iterations": 30}),
        tmp_path / "reference",
        progress=False,
    )
    assert json.loads((out / "summary.json").read_text())["final_loss"] == reference["final_loss"]


def test_a_lock_held_in_this_process_refuses_a_second_writer(tmp_path):
    from synapse_sim.folder import ResultsFolder

    with ResultsFolder.owned(tmp_path / "r", create=True):
        with pytest.raises(RunError, match=rf"in use by another run \(PID {os.getpid()}"):
            run(small_scenario(iterations=5), tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists(), "an empty folder made for a refused run is removed"
