"""A learn-policy screen timed both ways: candidates as a lockstep population, and one at a time.

The screen stage of ``synapse-sim learn-policy`` with a notMNIST 0 HU static scenario: each of
``--policies`` candidate tables runs frozen for ``--iterations`` on the notMNIST sample (one
screen seed, so every candidate shares one task instance). It runs through ``run_jobs`` as
``select_policy`` does, on a local Dask cluster of ``--processes`` workers: once with the
candidates in lockstep (``lockstep=K, group_by=same_task``, one population per worker) and once
one after the other (``lockstep=1``). The candidates stand in for learned tables: seeded random
Q tables over the scenario's state space (time does not depend on the table's values). Prints
the wall time both ways, the ratio, and whether the final accuracies agree (they must, bit for bit).

    .venv/bin/python benchmarks/bench_screen.py [--policies 16] [--iterations 50000] [--processes 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import limit_threads

from synapse_sim import Scenario
from synapse_sim.locations import notmnist_sample
from synapse_sim.rules.synaptic_rl.policy import Policy, resolve_policy_path
from synapse_sim.studies.jobs import Job, run_jobs, same_task


def candidates(scenario: Scenario, n: int, folder: Path) -> list[Path]:
    """``n`` seeded random tables over the shipped policy's state space, saved as policy files."""
    shipped = Policy.load(resolve_policy_path(scenario["policy"]["file"]))
    paths = []
    for k in range(n):
        rng = np.random.default_rng(k)
        policy = Policy(shipped.state_space, q=rng.standard_normal(shipped.q.shape), adaptive=False)
        policy.save(folder / f"candidate{k}")
        paths.append(folder / f"candidate{k}")
    return paths


def screen_jobs(scenario: Scenario, policies: list[Path], out: Path) -> list[Job]:
    return [Job(scenario.with_overrides({"policy.file": str(p)}), out / p.name, f"screen {p.name}") for p in policies]


def timed(jobs: list[Job], processes: int, lockstep: int) -> tuple[float, list[float]]:
    start = time.perf_counter()
    summaries = run_jobs(jobs, processes, lockstep=lockstep, group_by=same_task)
    return time.perf_counter() - start, [s["final_validation_accuracy"] for s in summaries]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policies", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=50000)
    parser.add_argument(
        "--processes", type=int, default=1, help="Dask workers, one single-threaded process each (1: in this process)"
    )
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads of this process (default: one core)")
    parser.add_argument(
        "--ways", nargs="+", choices=("lockstep", "alone"), default=["lockstep", "alone"], help="which ways to time"
    )
    parser.add_argument("--data", help="notMNIST folder (default: $SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist)")
    args = parser.parse_args()
    limit_threads(args.threads)
    data = args.data or notmnist_sample()
    if not data:
        raise SystemExit("the notMNIST sample was not found: pass --data DIR or set SYNAPSE_SIM_NOTMNIST")
    scenario = Scenario.load("notmnist_0hu").with_overrides(
        {
            "task.data": str(data),
            "run.iterations": args.iterations,
            "run.early_stop_iteration": None,
            "run.seed": 100,
            "task.data_seed": 100,
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "policies").mkdir()
        policies = candidates(scenario, args.policies, tmp / "policies")
        k = -(-args.policies // args.processes)
        timings = {}
        for way in args.ways:
            size = k if way == "lockstep" else 1
            timings[way] = timed(screen_jobs(scenario, policies, tmp / way), args.processes, size)
    print(
        f"screen of {args.policies} policies, notMNIST 0 HU, {args.iterations:,} iterations, "
        f"{args.processes} worker(s), {args.threads} BLAS thread(s) in this process"
    )
    names = {"alone": "one at a time", "lockstep": f"lockstep (K = {k})"}
    for way, (seconds, _) in timings.items():
        print(f"{names[way]:<22}{seconds:>10.1f} s")
    if len(timings) == 2:
        print(f"{'ratio':<22}{timings['alone'][0] / timings['lockstep'][0]:>10.2f}x")
        print(f"final validation accuracies equal: {timings['alone'][1] == timings['lockstep'][1]}")
    else:
        print("final validation accuracies:", next(iter(timings.values()))[1])


if __name__ == "__main__":
    main()
