"""Seconds per epoch of Q-AGREL (three feedback variants) vs. its error-backprop twin at 784-300-100-10.

The Q-AGREL paper's protocol: minibatch 100, float32, ReLU, an epoch = one pass over the
7,500 training images (75 steps). In one run it times a full vectorised step of each rule
(best of 3 repeats) and a bare NumPy backprop step of the same shapes (forward, backward
and the weight update, nothing else), and prints the epoch time of each and its ratio to
error-backprop's and to the bare step. Data: the notMNIST sample when found
($SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist), random pixels otherwise.

    .venv/bin/python benchmarks/bench_qagrel.py [--steps 150] [--threads N]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from common import best_of, limit_threads, sample_data

LAYERS = [784, 300, 100, 10]
BATCH = 100
N_TRAIN = 7500
RULES = (
    ("Q-AGREL, symmetric", "qagrel", {"qagrel.feedback": "symmetric"}),
    ("Q-AGREL, learned feedback", "qagrel", {"qagrel.feedback": "learned", "qagrel.feedback_scale": 0.01}),
    ("Q-AGREL, feedback alignment", "qagrel", {"qagrel.feedback": "fixed", "qagrel.feedback_scale": 0.01}),
    ("error-backprop", "error_backprop", {}),
)


def task(x, y):
    from synapse_sim.randomness import STREAM_BATCH, generator
    from synapse_sim.tasks import ClassificationTask

    return ClassificationTask(
        x[:N_TRAIN],
        y[:N_TRAIN],
        x[N_TRAIN:],
        y[N_TRAIN:],
        lambda b: generator(0, STREAM_BATCH, b),
        batch_size=BATCH,
        batch_interval=1,
        hidden_activation="relu",
        dtype=np.float32,
    )


def bare_backprop_step(weights, x_t, y) -> None:
    """Forward, cross-entropy error, backward and update of (n_in + 1, n_out) matrices: nothing else."""
    inputs, h = [], x_t
    for w in weights:
        h_b = np.vstack([h, np.ones((1, h.shape[1]), dtype=h.dtype)])
        inputs.append(h_b)
        a = w.T @ h_b
        h = np.maximum(a, 0) if len(inputs) < len(weights) else a
    p = np.exp(h - h.max(axis=0))
    error = -p / p.sum(axis=0)
    error[y, np.arange(y.size)] += 1
    for layer in range(len(weights) - 1, -1, -1):
        grad = inputs[layer] @ error.T
        if layer:
            error = (weights[layer][:-1] @ error) * (inputs[layer][:-1] > 0)
        weights[layer] += np.float32(0.1 / y.size) * grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, help="BLAS threads (default: the library's own choice)")
    args = parser.parse_args()
    limit_threads(args.threads)
    from synapse_sim import Scenario, VectorEngine

    x, y, source = sample_data()
    steps_per_epoch = N_TRAIN // BATCH
    print(
        f"{'-'.join(map(str, LAYERS))}, minibatch {BATCH}, float32, {steps_per_epoch} steps per epoch; data: {source}"
    )
    base = (
        Scenario()
        .with_overrides({"task.name": "notmnist", "layers": LAYERS, "hidden_activation": "relu", "dtype": "float32"})
        .with_overrides({"network.init_range": 0.0173})
    )
    times = {}
    for label, method, settings in RULES:
        engine = VectorEngine(base.with_overrides({"run.method": method, **settings}), task=task(x, y))
        engine.run(5)
        times[label] = best_of(engine.step, 3, args.steps)
    rng = np.random.default_rng(0)
    weights = [rng.uniform(-0.0173, 0.0173, (a + 1, b)).astype(np.float32) for a, b in itertools.pairwise(LAYERS)]
    x_t = np.ascontiguousarray(x[:BATCH].T, dtype=np.float32)
    bare = best_of(lambda: bare_backprop_step(weights, x_t, y[:BATCH]), 3, args.steps)
    backprop = times["error-backprop"]
    print(f"{'rule':<30}{'ms/step':>9}{'s/epoch':>9}{'/ error-backprop':>18}{'/ bare backprop step':>22}")
    for label, step in [*times.items(), ("bare NumPy backprop step", bare)]:
        print(
            f"{label:<30}{step * 1e3:>9.3f}{step * steps_per_epoch:>9.3f}{step / backprop:>18.2f}{step / bare:>22.2f}"
        )


if __name__ == "__main__":
    main()
