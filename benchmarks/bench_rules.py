"""Milliseconds per step of every rule at 784-32-10 (minibatch 5,000, float32) vs. the bare products it needs.

For each registered rule it times, in one run: a full vectorised step, and the bare
matrix products of the forward passes that step needs (one pass for synaptic RL, two for
SPSA and node perturbation: layer 1 ``W1.T @ X`` and layer 2 ``W2.T @ H``, with nothing
else), and prints their ratio. Node perturbation also needs one product per layer for
its eligibilities (``X @ (noise * broadcast).T``); the last column adds those to its bare
cost. Data: the notMNIST sample when found ($SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist),
random pixels otherwise (timing does not depend on the values).

    .venv/bin/python benchmarks/bench_rules.py [--steps 200] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from functools import partial

import numpy as np
from common import limit_threads, minibatch_task, sample_data

RULE_SETTINGS = {
    "synaptic_rl": {"policy.mode": "static", "policy.file": "shipped:paper_ocr", "epsilon": 0.1, "alpha_s": 1e-4},
    "spsa": {"spsa.a": 0.005, "spsa.c": 0.001},
    "node_perturbation": {"node_perturbation.sigma": 0.01, "node_perturbation.eta": 1.0},
}


def forward(w1, w2, x_t, h) -> None:
    w1.T @ x_t
    w2.T @ h


def eligibility(x_t, h, g1, g2) -> None:
    x_t @ g1.T
    h @ g2.T


def best_of(fn, repeats: int, n: int) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the library's own choice)")
    args = parser.parse_args()
    limit_threads(args.threads)

    from synapse_sim import RULES, Scenario, VectorEngine

    x, y, source = sample_data()
    print(f"784-32-10, minibatch 5000, float32; data: {source}; numpy {np.__version__}")
    head = f"{'rule':<20}{'passes':>7}{'ms/step':>10}{'bare ms':>10}{'ratio':>8}{'ms/evaluation':>15}"
    print(head + f"{'ratio incl. eligibility':>25}")
    for name in sorted(RULES):
        scenario = (
            Scenario()
            .with_overrides(
                {"layers": [784, 32, 10], "hidden_activation": "relu", "dtype": "float32", "init_range": 0.1}
            )
            .with_overrides({"run.method": name, **RULE_SETTINGS.get(name, {})})
        )
        task = minibatch_task(x, y)
        engine = VectorEngine(scenario, task=task)
        engine.run(10)
        passes = len(engine.simulation.rule.passes(1))
        x_t, _ = task.batch(1)
        w1, w2 = (np.ascontiguousarray(m) for m in engine.weight_matrices())
        h = np.maximum(w1.T @ x_t, 0)
        h = np.vstack([h, np.ones((1, h.shape[1]), dtype=h.dtype)])
        g1, g2 = np.ones((32, 5000), dtype=np.float32), np.ones((10, 5000), dtype=np.float32)

        step = best_of(engine.step, 3, args.steps)
        bare = passes * best_of(partial(forward, w1, w2, x_t, h), 3, args.steps)
        extra = ""
        if "coincidence" in engine.simulation.rule.needs:
            extra = f"{step / (bare + best_of(partial(eligibility, x_t, h, g1, g2), 3, args.steps)):>25.2f}"
        evaluations = engine.simulation.evaluations / engine.step_count
        print(
            f"{name:<20}{passes:>7}{step * 1e3:>10.3f}{bare * 1e3:>10.3f}{step / bare:>8.2f}"
            f"{step * 1e3 / evaluations:>15.3f}{extra}"
        )


if __name__ == "__main__":
    main()
