"""Where a study's runs go: Dask distributed (:func:`synapse_sim.studies.jobs.run_jobs`).

By default a ``LocalCluster`` on this machine, one single-threaded worker process per core;
with ``--scheduler tcp://HOST:PORT`` (or ``SYNAPSE_SIM_SCHEDULER``) an existing cluster, whose
workers need synapse_sim (and any plug-in) importable and the results folders reachable at
the same paths. Each job (or group of jobs in lockstep) is one Dask task; a task whose worker
is lost is run again elsewhere and resumes its run from the last checkpoint, exactly. A study
that is interrupted sets a Dask ``Event``: running runs checkpoint and stop at their next
step (the run loop polls it), queued ones do not start.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import sys
import uuid
from pathlib import Path

SCHEDULER_ENV = "SYNAPSE_SIM_SCHEDULER"
CONNECT_TIMEOUT_S = 10
_SCHEDULER: contextvars.ContextVar[str | None] = contextvars.ContextVar("synapse_sim_scheduler", default=None)


@contextlib.contextmanager
def use_scheduler(address: str | None):
    """Studies started inside send their runs to the Dask scheduler at ``address`` (None: as before)."""
    token = _SCHEDULER.set(address)
    try:
        yield
    finally:
        _SCHEDULER.reset(token)


def scheduler_address() -> str | None:
    """The scheduler studies use: :func:`use_scheduler`'s, else ``$SYNAPSE_SIM_SCHEDULER``, else None (local)."""
    return _SCHEDULER.get() or os.environ.get(SCHEDULER_ENV) or None


@contextlib.contextmanager
def client_for(address: str | None, processes: int):
    """A Dask client of the cluster at ``address``, or of a new ``LocalCluster`` of ``processes``
    single-threaded worker processes; the dashboard's address is printed."""
    from distributed import Client, LocalCluster

    from ..folder import RunError

    if address:
        try:
            client = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
        except (OSError, TimeoutError) as exc:
            raise RunError(
                f"cannot reach the Dask scheduler at {address!r} within {CONNECT_TIMEOUT_S} s ({exc}); nothing was "
                f"started: start one (`dask scheduler`, then `dask worker {address}` per machine), fix the address, "
                f"or leave out --scheduler (and ${SCHEDULER_ENV}) to run on this machine"
            ) from None
        with client:
            _announce(client, f"the Dask cluster at {address}")
            yield client
        return
    single = {var: "1" for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    with (
        LocalCluster(
            n_workers=processes,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            env=single,
            preload=[__name__],  # dask_setup below
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        _announce(client, f"a local Dask cluster of {processes} worker processes")
        yield client


def dask_setup(worker) -> None:
    """Run by each local worker as it starts (Dask's preload): Ctrl-C to the study's process group
    is the study's to handle (its runs checkpoint and stop); a worker process ignores it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _announce(client, what: str) -> None:
    link = client.dashboard_link if client.scheduler_info().get("services", {}).get("dashboard") else None
    board = f"; dashboard {link}" if link else ""
    print(f"synapse-sim: runs on {what}{board}", file=sys.stderr, flush=True)


def submit_all(client, task, groups, payload) -> tuple[list, str]:
    """Submit ``task(groups[i], payload, stop_name)`` per group; returns (the futures, the stop event's name)."""
    from distributed import Event

    stop_name = f"synapse-sim-stop-{uuid.uuid4().hex}"
    Event(stop_name, client=client).clear()
    futures = [
        client.submit(task, group, payload, stop_name, key=f"synapse-sim-{i}-{Path(group[0].out_dir).name}-{stop_name}")
        for i, group in enumerate(groups)
    ]
    return futures, stop_name


def stop_all(client, futures, stop_name: str, timeout_s: float = 120) -> None:
    """Set the study's stop event and wait for its tasks to checkpoint and end (or not start)."""
    from distributed import Event, wait

    with contextlib.suppress(Exception):
        Event(stop_name, client=client).set()
        wait(futures, timeout=timeout_s)


def stop_requested(stop_name: str):
    """In a task: a callable that says why the study stopped (or None), asking the scheduler's event."""
    from distributed import Event

    event = Event(stop_name)

    def check() -> str | None:
        return "the study was stopped" if event.is_set() else None

    return check
