"""Record each population member's run alone (run once; tests/test_population.py compares the lockstep runs).

    .venv/bin/python tests/golden/make_population_golden.py [NAME ...]

Stores, in ``tests/golden/population_NAME.npz``, per member: SHA-256 digests of the losses and
rewards of every step and of every final checkpoint array, computed by the single-run path.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
STEPS = 2000


def members(name: str, data=None):
    from synapse_sim import Scenario

    if name == "decision_boundary":  # task.data_seed = 0: one boundary for every run seed
        base = Scenario.load("decision_boundary_adaptive")
        return [base.with_overrides({"run.seed": seed}) for seed in range(8)]
    from synapse_sim.locations import notmnist_sample

    base = Scenario.load("notmnist_0hu").with_overrides({"task.data": str(data or notmnist_sample())})
    return [base.with_overrides({"synapse.alpha_s": a}) for a in (0.001, 0.002, 0.0005, 0.003)]


def digest(values) -> str:
    array = np.ascontiguousarray(values)
    return hashlib.sha256(array.dtype.str.encode() + str(array.shape).encode() + array.tobytes()).hexdigest()


def fingerprint(results, state) -> dict[str, str]:
    out = {"loss": digest(np.array([r.loss for r in results])), "reward": digest(np.array([r.reward for r in results]))}
    out.update({f"checkpoint_{key}": digest(value) for key, value in state.items()})
    return out


def main(names) -> None:
    from synapse_sim import VectorEngine

    for name in names or ("decision_boundary", "notmnist_0hu"):
        rows = []
        for scenario in members(name):
            engine = VectorEngine(scenario)
            rows.append(fingerprint(engine.run(STEPS), engine.checkpoint()))
        keys = sorted(rows[0])
        np.savez_compressed(HERE / f"population_{name}.npz", **{k: np.array([r[k] for r in rows]) for k in keys})
        print(name, len(rows), "members")


if __name__ == "__main__":
    main(sys.argv[1:])
