"""Steps per second of the agent view and the vectorised backend on the 2-100-1 network.

Both views run the same scenario in this one process, after a warm-up; the
figures that matter are the ratios measured in the same run (machines are shared
and noisy). The "forward only" line times the task evaluation alone, the cost no
engine can avoid.

    .venv/bin/python benchmarks/bench_views.py [--steps 2000] [--agent-steps 300]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from synapse_sim import Scenario, VectorEngine
from synapse_sim.model import SynapseModel


def timed(fn, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--agent-steps", type=int, default=300)
    args = parser.parse_args()

    scenario = Scenario()
    vector = VectorEngine(scenario)
    model = SynapseModel(scenario)
    n = vector.simulation.topology.n_synapses
    vector.run(50)
    for _ in range(20):
        model.step()
    weights = vector.weight_matrices()
    task = vector.simulation.task

    t_vector = timed(vector.step, args.steps)
    t_agent = timed(model.step, args.agent_steps)
    t_forward = timed(lambda: task.evaluate(weights, 1), args.steps)

    print(
        f"network 2-100-1: {n} synapses ({n} agents in the agent view); python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    print(f"{'view':<22}{'ms/step':>10}{'steps/s':>10}{'synapse-steps/s':>18}")
    for name, t in (("vectorised backend", t_vector), ("agent view (Mesa)", t_agent), ("forward only", t_forward)):
        print(f"{name:<22}{t * 1e3:>10.3f}{1 / t:>10.1f}{n / t:>18.3g}")
    print(f"agent view / vectorised time per step: {t_agent / t_vector:.1f}x")
    print(f"vectorised step / forward pass alone:  {t_vector / t_forward:.2f}x")


if __name__ == "__main__":
    main()
