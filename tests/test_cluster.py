"""Studies on Dask distributed: a real scheduler and two workers on loopback, a lost worker, a bad address."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

FIG1 = ["fig1", "--seeds", "0", "1", "--static-seeds", "0"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def synapse_sim(*args, timeout=600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "synapse_sim", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


@pytest.fixture
def cluster(tmp_path):
    """``dask scheduler`` and two ``dask worker`` processes on loopback (each its own process group)."""
    address = f"tcp://127.0.0.1:{free_port()}"
    dask = [sys.executable, "-m", "distributed.cli"]
    common = dict(cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port = address.rsplit(":", 1)[1]
    scheduler = subprocess.Popen(
        [*dask[:2], "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard"],
        **common,
    )
    workers = [
        subprocess.Popen(
            [
                *dask[:2],
                "distributed.cli.dask_worker",
                address,
                "--nthreads",
                "1",
                "--no-dashboard",
                "--name",
                f"w{i}",
            ],
            **common,
        )
        for i in range(2)
    ]
    processes = [scheduler, *workers]
    try:
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def same_results(a: Path, b: Path) -> None:
    """Every run's history and final checkpoint equal (wall times aside), and the same table."""
    runs = sorted(p.relative_to(a) for p in a.rglob("checkpoint.npz"))
    assert runs and runs == sorted(p.relative_to(b) for p in b.rglob("checkpoint.npz"))
    for run in runs:
        with np.load(a / run) as x, np.load(b / run) as y:
            assert x.files == y.files
            for key in x.files:
                if "wall" not in key:
                    np.testing.assert_array_equal(x[key], y[key], err_msg=f"{run} {key}")
    assert (a / "results.md").read_text() == (b / "results.md").read_text()


@pytest.mark.slow
def test_a_study_through_a_dask_scheduler_equals_the_local_run_even_when_a_worker_is_lost(cluster, tmp_path):
    address, workers = cluster
    keys = ["--iterations", "2000", "--set", "run.checkpoint_every=200"]
    local = synapse_sim(*FIG1, *keys, "--processes", "1", "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    remote = synapse_sim(*FIG1, *keys, "--scheduler", address, "--out", str(tmp_path / "remote"))
    assert remote.returncode == 0, remote.stderr
    assert f"runs on the Dask cluster at {address}" in remote.stderr
    same_results(tmp_path / "local", tmp_path / "remote")

    out = tmp_path / "lost"
    env = {**os.environ, "SYNAPSE_SIM_SCHEDULER": address}  # the variable instead of --scheduler
    study = subprocess.Popen(
        [sys.executable, "-m", "synapse_sim", *FIG1, *keys, "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while not list(out.rglob("checkpoint.npz")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(out.rglob("checkpoint.npz")), "no run wrote a checkpoint within 2 minutes"
        os.killpg(workers[0].pid, signal.SIGKILL)  # a worker lost mid-run: its task moves to the other
        _, err = study.communicate(timeout=600)
    finally:
        if study.poll() is None:
            study.kill()
    assert study.returncode == 0, err
    same_results(tmp_path / "local", out)


def test_an_unreachable_scheduler_is_a_clear_error_within_ten_seconds_and_starts_nothing(tmp_path):
    started = time.monotonic()
    address = f"tcp://127.0.0.1:{free_port()}"
    done = synapse_sim(*FIG1, "--iterations", "100", "--scheduler", address, "--out", str(tmp_path / "out"), timeout=60)
    assert time.monotonic() - started < 10 + 8  # the connection timeout, plus the interpreter's start
    assert done.returncode == 2 and f"cannot reach the Dask scheduler at '{address}' within 10 s" in done.stderr
    assert "nothing was started" in done.stderr and not (tmp_path / "out").exists()
