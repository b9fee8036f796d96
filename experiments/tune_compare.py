"""Tune every rule with the same budget before a comparison: one step-size grid per rule, one tuning seed.

    python experiments/tune_compare.py --data ../shared/data/notmnist --evaluations 10000 --out runs/tune/0hu \\
        scenarios/notmnist_0hu.toml:synapse.alpha_s=0.0001,0.0003,0.001,0.003 \\
        scenarios/notmnist_0hu_spsa.toml:spsa.a=0.002,0.005,0.01,0.02 \\
        scenarios/notmnist_0hu_node_perturbation.toml:node_perturbation.eta=0.1,0.3,1,3 \\
        scenarios/notmnist_0hu_gd.toml:gradient.learning_rate=0.03,0.1,0.3,1

Each ``SCENARIO:KEY=V1,V2,...`` (a value may be a TOML list: ``spsa.a_schedule=[],[[5001, 0.0005]]``)
runs once per value on the tuning seed (default 100, a split
the comparison never reports) for the same number of loss evaluations. The value with the
highest *mean* held-out accuracy over the budget's checks wins (the area under the learning
curve: it rewards learning fast and ending high); gradient descent, which runs to its own
stopping rule, is chosen by its accuracy at its best validation loss. Writes tuning.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synapse_sim.io import atomic_write_text
from synapse_sim.studies.compare import compare_jobs, first_reaching, parse_item, validation_curve
from synapse_sim.studies.experiments import run_jobs


def split_values(text: str) -> list[str]:
    """``V1,V2,...`` split at the commas outside brackets, so a value may be a list."""
    values, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            values.append(text[start:i])
            start = i + 1
    return [*values, text[start:]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grids", nargs="+", help="SCENARIO:KEY=V1,V2,... (SCENARIO may carry @key=value overrides)")
    parser.add_argument("--data")
    parser.add_argument("--evaluations", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--processes", type=int)
    parser.add_argument("--out", default="runs/tune")
    args = parser.parse_args(argv)
    jobs, grid_of = [], []
    for grid in args.grids:
        item, assignment = grid.rsplit(":", 1)
        key, values = assignment.split("=", 1)
        base, own = parse_item(item)
        stem = "@".join([Path(item.split("@")[0]).stem, *own])
        for value in split_values(values):
            scenario = base.with_sets([*own, f"{key}={value}"])
            scenario = scenario.with_overrides({"run.name": f"{stem}_{key.split('.')[-1]}{value}"})
            jobs += compare_jobs([scenario], [args.seed], args.out, args.evaluations, data=args.data)
            grid_of.append((stem, key, value))
    summaries = run_jobs(jobs, args.processes)
    lines = [
        f"Tuning seed {args.seed}, budget {args.evaluations:,} loss evaluations per run (gradient descent: "
        "its own stopping rule). Best value per rule in bold.",
        "",
        "| scenario | key | value | mean held-out accuracy over the checks | at the end | first check >= 85 % |",
        "|---|---|---|---|---|---|",
    ]
    results = []
    for job, summary, (stem, key, value) in zip(jobs, summaries, grid_of, strict=True):
        x, acc = validation_curve(job.out_dir, job.scenario)
        gd = job.scenario["run"]["method"] == "gradient_descent"
        end = 100 * float(summary["final_validation_accuracy"] if gd else acc[-1])
        score = end if gd else 100 * float(acc.mean())
        results.append((stem, key, value, score, end, first_reaching(x, acc, 0.85), gd))
    best = {}
    for stem, _, value, score, *_ in results:
        if stem not in best or score > best[stem][1]:
            best[stem] = (value, score)
    for stem, key, value, score, final, first, gd in results:
        mark = "**" if best[stem][0] == value else ""
        mean = "(its own stopping rule)" if gd else f"{score:.2f} %"
        lines.append(f"| {stem} | {key} | {mark}{value}{mark} | {mean} | {final:.2f} % | {first or '-'} |")
    table = "\n".join(lines) + "\n"
    atomic_write_text(Path(args.out) / "tuning.md", table)
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
