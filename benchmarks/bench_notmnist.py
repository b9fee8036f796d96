"""Milliseconds per synaptic-RL iteration at the paper's notMNIST sizes vs. the bare product.

For 784-10 and 784-32-10 at minibatch 5,000 it times, in one run: a full
vectorised training iteration (static shipped policy, epsilon 0.1), the bare
first-layer product of the same shapes (the forward pass no engine can avoid),
and their ratio; then peak memory. Data: the notMNIST sample when found
($SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist), random pixels otherwise
(timing does not depend on the values).

    .venv/bin/python benchmarks/bench_notmnist.py [--iterations 300] [--threads N]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
from common import limit_threads, minibatch_task, sample_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the library's own choice)")
    args = parser.parse_args()
    limit_threads(args.threads)

    from synapse_sim import Scenario, VectorEngine

    x, y, source = sample_data()
    print(f"data: {source}; minibatch 5000, float32; numpy {np.__version__}")
    print(f"{'network':<12}{'ms/iteration':>14}{'bare W.T@X ms':>15}{'ratio':>8}{'500k iterations':>17}")
    for layers in ([784, 10], [784, 32, 10]):
        scenario = Scenario().with_overrides(
            {
                "layers": layers,
                "hidden_activation": "relu",
                "dtype": "float32",
                "init_range": 0.1,
                "alpha_s": 1e-4,
                "epsilon": 0.1,
                "policy.mode": "static",
                "policy.file": "shipped",
            }
        )
        task = minibatch_task(x, y)
        engine = VectorEngine(scenario, task=task)
        engine.run(20)
        x_t, _ = task.batch(1)
        w = np.ascontiguousarray(engine.weight_matrices()[0])
        best_step, best_bare = np.inf, np.inf
        for _ in range(3):
            start = time.perf_counter()
            engine.run(args.iterations)
            best_step = min(best_step, (time.perf_counter() - start) / args.iterations)
            start = time.perf_counter()
            for _ in range(args.iterations):
                w.T @ x_t
            best_bare = min(best_bare, (time.perf_counter() - start) / args.iterations)
        name = "-".join(map(str, layers))
        print(
            f"{name:<12}{best_step * 1e3:>14.3f}{best_bare * 1e3:>15.3f}{best_step / best_bare:>8.2f}"
            f"{best_step * 500_000 / 60:>14.1f} min"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS of this process, both networks and the data): {peak:.0f} MiB")


if __name__ == "__main__":
    main()
