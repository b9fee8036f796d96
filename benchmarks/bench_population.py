"""Network-iterations per second of a lockstep population against its runs one at a time.

K synaptic-RL runs of one notMNIST-shaped network on one task instance (one minibatch of
5,000 random 784-pixel images, as in Table 1's scenarios; the members differ by alpha_s) are
stepped together (:class:`synapse_sim.engine.lockstep_runs.LockstepRuns`: each evaluation's
first layer one product for all K), and the same K runs one after the other. Prints, per
network and K, network-iterations per second both ways and the ratio, with one BLAS thread
and with the library's default (all cores). Results are equal bit for bit either way
(tests/test_population.py); only time is measured here.

Then the GPU rows, where a GPU and torch or CuPy are there (``run.device = "cuda"``): the same
table, the largest population that fits, and Table 1's ten synaptic-RL runs projected from
the measured rate; elsewhere one line saying why they are skipped.

    .venv/bin/python benchmarks/bench_population.py [--iterations 10] [--rounds 8] [--sizes 1 4 16 64] [--gpu-only]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from synapse_sim import Scenario, VectorEngine
from synapse_sim.engine.lockstep_runs import LockstepRuns
from synapse_sim.tasks.classification import ClassificationTask


def task(n_in: int, dtype, arrays=None) -> ClassificationTask:
    rng = np.random.default_rng(0)
    x = rng.random((20000, n_in), dtype=np.float32)
    y = rng.integers(0, 10, 20000)
    return ClassificationTask(x, y, x[:100], y[:100], np.random.default_rng, dtype=dtype, arrays=arrays)


def scenarios(hidden, k: int, arrays=None) -> list[Scenario]:
    where = {} if arrays is None else {"run.device": "cpu" if arrays.device in (None, "cpu") else "cuda"}
    base = Scenario.load("notmnist_0hu").with_overrides(
        {
            "layers": [784, *hidden, 10],
            "task.data": "unused",
            "run.validate_every": 0,
            **where,
            **({} if arrays is None else {"run.array_library": arrays.name}),
        }
    )
    return [base.with_overrides({"synapse.alpha_s": 0.001 * (1 + i / k)}) for i in range(k)]


def timed(hidden, k: int, iterations: int, rounds: int, arrays=None) -> tuple[float, float]:
    """Best network-iterations per second of each way over ``rounds`` interleaved rounds.

    The two ways alternate round by round so that a slow spell of a shared machine hits both;
    each way's fastest round is kept, as ``timeit`` advises (slower rounds are interference)."""
    members = scenarios(hidden, k, arrays)
    shared = task(784, np.float32, arrays)
    engines = [VectorEngine(s, task=shared) for s in members]
    population = LockstepRuns(members, task=shared)
    for engine in engines:
        engine.run(1)
    population.run(1)
    alone, together = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for engine in engines:
            engine.run(iterations)
        alone.append(time.perf_counter() - start)
        start = time.perf_counter()
        population.run(iterations)
        together.append(time.perf_counter() - start)
    return k * iterations / min(alone), k * iterations / min(together)


def gpu_rows(sizes, iterations: int, rounds: int, library: str = "auto") -> None:
    """The same table on ``run.device = "cuda"``, the largest population that fits, and Table 1's
    ten synaptic-RL runs projected from the measured rate; or why there are no GPU rows."""
    from synapse_sim import ScenarioError
    from synapse_sim.arrays import array_library

    try:
        arrays = array_library("cpu" if library == "array_api_strict" else "cuda", library)
    except ScenarioError as exc:
        print(f"GPU rows skipped: {exc}")
        return
    print(f"GPU rows ({arrays.name} on {arrays.device or 'cpu'}):")
    rates = {}
    for hidden in ((), (32,)):
        name = "-".join(map(str, [784, *hidden, 10]))
        for k in [*sizes, 5]:
            alone, together = timed(hidden, k, iterations, rounds, arrays)
            rates[name, k] = together
            print(f"{name:<12}{arrays.name[:8]:>8}{k:>5}{alone:>12,.1f}{together:>15,.1f}{together / alone:>7.2f}")
        k, best = max(sizes), None
        while k <= (16384 if library != "array_api_strict" else 2 * max(sizes)):
            try:
                best = (k, timed(hidden, k, 2, 1, arrays)[1])
            except Exception as exc:  # the library's out-of-memory error
                if "out of memory" not in str(exc).lower():
                    raise
                break
            k *= 2
        if best:
            print(f"{name}: largest population tried that fits: K = {best[0]:,}, {best[1]:,.0f} network-iterations/s")
    # Table 1's synaptic-RL rows: 5 runs each of 784-10 and 784-32-10, 200,000 iterations
    seconds = sum(5 * 200_000 / rates[name, 5] for name in ("784-10", "784-32-10"))
    print(f"Table 1's ten synaptic-RL runs, two populations of 5, projected: {seconds / 60:.1f} min")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=10, help="iterations of each member per round")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds; the best of each way counts")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--gpu-only", action="store_true", help="only the GPU rows")
    parser.add_argument(
        "--gpu-library",
        default="auto",
        choices=("auto", "torch", "cupy", "array_api_strict"),
        help="library of the GPU rows (array_api_strict: a dry run of their code on the CPU)",
    )
    args = parser.parse_args()
    print(f"{'network':<12}{'threads':>8}{'K':>5}{'alone it/s':>12}{'lockstep it/s':>15}{'ratio':>7}")
    for hidden in () if args.gpu_only else ((), (32,)):
        name = "-".join(map(str, [784, *hidden, 10]))
        for threads in (1, None):
            with threadpool_limits(threads):
                for k in args.sizes:
                    alone, together = timed(hidden, k, args.iterations, args.rounds)
                    label = "1" if threads == 1 else "all"
                    print(f"{name:<12}{label:>8}{k:>5}{alone:>12,.1f}{together:>15,.1f}{together / alone:>7.2f}")
    gpu_rows(args.sizes, args.iterations, args.rounds, args.gpu_library)


if __name__ == "__main__":
    main()
