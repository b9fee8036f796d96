"""Network-iterations per second of a lockstep population against its runs one at a time.

K synaptic-RL runs of one notMNIST-shaped network on one task instance (one minibatch of
5,000 random 784-pixel images, as in Table 1's scenarios; the members differ by alpha_s) are
stepped together (:class:`synapse_sim.engine.lockstep_runs.LockstepRuns`: each evaluation's
first layer one product for all K), and the same K runs one after the other. Prints, per
network and K, network-iterations per second both ways and the ratio, with one BLAS thread
and with the library's default (all cores). Results are equal bit for bit either way
(tests/test_population.py); only time is measured here.

    .venv/bin/python benchmarks/bench_population.py [--iterations 100] [--sizes 1 4 16 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from synapse_sim import Scenario, VectorEngine
from synapse_sim.engine.lockstep_runs import LockstepRuns
from synapse_sim.tasks.classification import ClassificationTask


def task(n_in: int, dtype) -> ClassificationTask:
    rng = np.random.default_rng(0)
    x = rng.random((20000, n_in), dtype=np.float32)
    y = rng.integers(0, 10, 20000)
    return ClassificationTask(x, y, x[:100], y[:100], np.random.default_rng, dtype=dtype)


def scenarios(hidden, k: int) -> list[Scenario]:
    base = Scenario.load("notmnist_0hu").with_overrides(
        {"layers": [784, *hidden, 10], "task.data": "unused", "run.validate_every": 0}
    )
    return [base.with_overrides({"synapse.alpha_s": 0.001 * (1 + i / k)}) for i in range(k)]


def timed(hidden, k: int, iterations: int) -> tuple[float, float]:
    members = scenarios(hidden, k)
    shared = task(784, np.float32)
    engines = [VectorEngine(s, task=shared) for s in members]
    start = time.perf_counter()
    for engine in engines:
        engine.run(iterations)
    alone = time.perf_counter() - start
    population = LockstepRuns(members, task=shared)
    start = time.perf_counter()
    population.run(iterations)
    together = time.perf_counter() - start
    return k * iterations / alone, k * iterations / together


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    args = parser.parse_args()
    print(f"{'network':<12}{'threads':>8}{'K':>5}{'alone it/s':>12}{'lockstep it/s':>15}{'ratio':>7}")
    for hidden in ((), (32,)):
        name = "-".join(map(str, [784, *hidden, 10]))
        for threads in (1, None):
            with threadpool_limits(threads):
                for k in args.sizes:
                    alone, together = timed(hidden, k, args.iterations)
                    label = "1" if threads == 1 else "all"
                    print(f"{name:<12}{label:>8}{k:>5}{alone:>12,.1f}{together:>15,.1f}{together / alone:>7.2f}")


if __name__ == "__main__":
    main()
