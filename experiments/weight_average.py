"""Does SPSA gain from iterate averaging? Held-out accuracy of the weights and of their running averages.

    python experiments/weight_average.py --data ../shared/data/notmnist --seed 100 --steps 25000 \\
        --set task.batch_interval=100 --out runs/weight_average.json

Runs one scenario (default: the 32 HU SPSA scenario) on the vectorised backend and keeps exponential
moving averages of the weight vector, w_bar <- w_bar + r (w - w_bar), for each rate r; every
``--every`` steps it scores the weights and each average on the held-out images. Iterate averaging
(Polyak-Ruppert; Spall's SPSA with averaged iterates) helps when the weights jitter around a
plateau; equal curves say the plateau is not jitter. A probe, not part of the comparison protocol.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from synapse_sim.runner import make_engine
from synapse_sim.scenario import Scenario, parse_sets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="scenarios/notmnist_32hu_spsa.toml")
    parser.add_argument("--data", help="notMNIST data (task.data), for a notMNIST scenario")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--steps", type=int, default=25000)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-3, 3e-4, 1e-4])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--out", default="runs/weight_average.json")
    args = parser.parse_args(argv)
    overrides = {"run.seed": args.seed, "run.iterations": args.steps, **parse_sets(args.set)}
    if args.data:
        overrides["task.data"] = args.data
    engine = make_engine(Scenario.load(args.scenario).with_overrides(overrides), "vector")
    simulation, weights = engine.simulation, engine.population.weights
    averages = {r: weights.astype(np.float64) for r in args.rates}
    rows = []
    for t in range(1, args.steps + 1):
        engine.step()
        for rate, average in averages.items():
            np.add(average, rate * (engine.population.weights - average), out=average)
        if t % args.every == 0:
            row = {"step": t, "evaluations": simulation.evaluations}
            row["weights"] = simulation.task.validate(engine.weight_matrices())["accuracy"]
            for rate, average in averages.items():
                matrices = simulation.topology.matrices(average.astype(weights.dtype))
                row[f"average {rate:g}"] = simulation.task.validate(matrices)["accuracy"]
            rows.append(row)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows))
    print("| held-out accuracy of | best check (evaluations) | mean of the last 20 checks | checks >= 89 % |")
    print("|---|---|---|---|")
    for key in [k for k in rows[0] if k not in ("step", "evaluations")]:
        values = np.array([row[key] for row in rows])
        best = int(values.argmax())
        print(
            f"| {key} | {values[best]:.2%} ({rows[best]['evaluations']:,}) | {values[-20:].mean():.2%} "
            f"| {int((values >= 0.89).sum())} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
