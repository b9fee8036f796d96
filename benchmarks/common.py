"""What the notMNIST-size benchmarks share: thread setting, the data, the minibatch task."""

from __future__ import annotations

import time

import numpy as np


def limit_threads(threads: int | None) -> None:
    if threads:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)


def sample_data() -> tuple[np.ndarray, np.ndarray, str]:
    """The notMNIST sample when found ($SYNAPSE_SIM_NOTMNIST or ../shared/data/notmnist), else random pixels."""
    from synapse_sim.locations import notmnist_sample
    from synapse_sim.tasks.data import load_notmnist

    path = notmnist_sample()
    if path:
        data = load_notmnist(path)
        return data.images, data.labels, f"notMNIST sample ({len(data.labels)} images)"
    rng = np.random.default_rng(0)
    return rng.random((10000, 784), dtype=np.float32), rng.integers(0, 10, 10000), "random pixels"


def minibatch_task(x, y):
    """7,500 training images, minibatch 5,000 redrawn every 5,000 steps, float32 (the paper's notMNIST setting)."""
    from synapse_sim.randomness import STREAM_BATCH, generator
    from synapse_sim.tasks import ClassificationTask

    return ClassificationTask(
        x[:7500],
        y[:7500],
        x[7500:],
        y[7500:],
        lambda b: generator(0, STREAM_BATCH, b),
        batch_size=5000,
        batch_interval=5000,
        dtype=np.float32,
    )


def best_of(fn, repeats: int, n: int) -> float:
    """Seconds per call of ``fn``: the best of ``repeats`` timings of ``n`` calls (machines are shared and noisy)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best
