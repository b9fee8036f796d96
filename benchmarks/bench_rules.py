"""Milliseconds per step of every rule at 784-10 and 784-32-10 (minibatch 5,000, float32) vs. its bare products.

For each registered rule it times, in one run: a full vectorised step, and the bare
matrix products of the forward passes that step needs (one pass for synaptic RL, two for
SPSA and node perturbation: ``W.T @ H`` per layer, with nothing else), and prints their
ratio and the cost of one loss evaluation. Node perturbation also needs one product per layer for
its eligibilities (``X @ (noise * broadcast).T``); the last column adds those to its bare
cost. Data: the notMNIST sample when found ($SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist),
random pixels otherwise (timing does not depend on the values).

    .venv/bin/python benchmarks/bench_rules.py [--steps 200] [--threads N]
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from common import best_of, limit_threads, minibatch_task, sample_data

RULE_SETTINGS = {
    "synaptic_rl": {"policy.mode": "static", "policy.file": "shipped:paper_ocr", "epsilon": 0.1, "alpha_s": 1e-4},
    "spsa": {"spsa.a": 0.005, "spsa.c": 0.001},
    "node_perturbation": {"node_perturbation.sigma": 0.01, "node_perturbation.eta": 1.0},
}


def forward(weights, inputs) -> None:
    for w, h in zip(weights, inputs, strict=True):
        w.T @ h


def eligibility(inputs, signals) -> None:
    for h, g in zip(inputs, signals, strict=True):
        h @ g.T


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the library's own choice)")
    args = parser.parse_args()
    limit_threads(args.threads)

    from synapse_sim import RULES

    x, y, source = sample_data()
    print(f"minibatch 5000, float32; data: {source}; numpy {np.__version__}")
    head = f"{'network':<11}{'rule':<20}{'passes':>7}{'ms/step':>10}{'bare ms':>10}{'ratio':>8}{'ms/evaluation':>15}"
    print(head + f"{'ratio incl. eligibility':>25}")
    for layers in ([784, 10], [784, 32, 10]):
        for name in sorted(RULES):
            if not RULES[name].needs_episodes:  # control rules: benchmarks/bench_control.py
                time_rule(name, layers, x, y, args.steps)


def time_rule(name: str, layers: list[int], x, y, steps: int) -> None:
    from synapse_sim import RULES, Scenario, VectorEngine

    network = {"layers": layers, "hidden_activation": "relu", "dtype": "float32", "init_range": 0.1}
    task_keys = {"task.name": "notmnist"} if RULES[name].needs_classes else {}
    scenario = Scenario().with_overrides({**network, **task_keys})
    scenario = scenario.with_overrides({"run.method": name, **RULE_SETTINGS.get(name, {})})
    task = minibatch_task(x, y)
    engine = VectorEngine(scenario, task=task)
    engine.run(10)
    passes = len(engine.simulation.rule.passes(1))
    x_t, _ = task.batch(1)
    weights = [np.ascontiguousarray(m) for m in engine.weight_matrices()]
    inputs = [x_t]
    for w in weights[:-1]:
        h = np.maximum(w.T @ inputs[-1], 0)
        inputs.append(np.vstack([h, np.ones((1, h.shape[1]), dtype=h.dtype)]))
    signals = [np.ones((w.shape[1], x_t.shape[1]), dtype=np.float32) for w in weights]
    step = best_of(engine.step, 3, steps)
    bare = passes * best_of(partial(forward, weights, inputs), 3, steps)
    extra = ""
    if "coincidence" in engine.simulation.rule.needs:
        extra = f"{step / (bare + best_of(partial(eligibility, inputs, signals), 3, steps)):>25.2f}"
    per_evaluation = step * engine.step_count / engine.simulation.evaluations
    print(
        f"{'-'.join(map(str, layers)):<11}{name:<20}{passes:>7}{step * 1e3:>10.3f}{bare * 1e3:>10.3f}"
        f"{step / bare:>8.2f}{per_evaluation * 1e3:>15.3f}{extra}"
    )


if __name__ == "__main__":
    main()
