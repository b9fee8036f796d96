"""Tune the control rules with the same budget: one learning-rate grid per rule, two tuning seeds.

    python experiments/tune_control.py --env CartPole-v1 --episodes 3000 --out runs/tune_control \\
        reinforce.eta=0.003,0.01,0.03 nrl.eta=0.3,1,3 rmhl.eta=0.01,0.03,0.1

Every grid has the same number of values; value k of every rule runs in study k (``synapse-sim
control`` with those settings) on the tuning seeds (default 100 and 101, which the reported
studies never use), each run stopping once solved or after ``--episodes``. A value's score is
the mean over its seeds of the mean return over all the episodes it ran, counting a solved
run's remaining budget at its last 100-episode mean (the area under the learning curve:
it rewards learning fast and ending high). Writes tuning.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from synapse_sim.io import atomic_write_text
from synapse_sim.studies.control import control_study, returns_of, running_mean


def rule_of(key: str) -> str:
    """The rule that owns a scenario key's section (``synapse.alpha_s`` -> ``synaptic_rl``)."""
    from synapse_sim.scenario import SECTION_OWNER

    section = key.split(".", 1)[0]
    return SECTION_OWNER.get(section, section)


def area(returns: np.ndarray, budget: int) -> float:
    """Mean return over the budget, a solved run's remaining episodes at its last 100-episode mean."""
    rest = np.full(max(budget - returns.size, 0), running_mean(returns)[-1])
    return float(np.mean(np.concatenate([returns[:budget], rest])))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("grids", nargs="+", help="SECTION.KEY=V1,V2,... (one per rule; the same number of values)")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101])
    parser.add_argument("--networks", default="64", help="hidden units, e.g. 64 or 64-64")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="fixed settings")
    parser.add_argument("--processes", type=int)
    parser.add_argument("--out", default="runs/tune_control")
    args = parser.parse_args(argv)
    grids = {}
    for grid in args.grids:
        key, values = grid.split("=", 1)
        grids[key] = values.split(",")
    sizes = {len(v) for v in grids.values()}
    if len(sizes) != 1:
        parser.error("every grid needs the same number of values")
    hidden = tuple(int(u) for u in args.networks.split("-"))
    rules = [rule_of(key) for key in grids]
    fixed = f"; fixed: {', '.join(args.set)}" if args.set else ""
    lines = [f"{args.env}, hidden {args.networks}, seeds {args.seeds}, budget {args.episodes} episodes{fixed}", ""]
    lines += [
        "| rule | setting | score (mean return over the budget) | solved | episodes run |",
        "|---|---|---|---|---|",
    ]
    scores: dict[str, list] = {key: [] for key in grids}
    for k in range(sizes.pop()):
        sets = [*args.set, *(f"{key}={values[k]}" for key, values in grids.items())]
        out = Path(args.out) / f"grid{k}"
        control_study(args.env, rules, args.seeds, out, args.episodes, (hidden,), sets, args.processes)
        for key, values in grids.items():
            rule = rule_of(key)
            folders = [out / args.networks / rule / f"seed{s}" for s in args.seeds]
            runs = [returns_of(folder) for folder in folders]
            score = float(np.mean([area(r, args.episodes) for r, _ in runs]))
            solved = sum(r.size < args.episodes for r, _ in runs)
            scores[key].append((score, values[k]))
            lines.append(
                f"| {rule} | {key}={values[k]} | {score:.1f} | {solved}/{len(runs)} | "
                f"{np.mean([r.size for r, _ in runs]):.0f} |"
            )
    lines.append("")
    for key, found in scores.items():
        best = max(found)
        lines.append(f"best {key} = {best[1]} (score {best[0]:.1f})")
    text = "\n".join(lines) + "\n"
    atomic_write_text(Path(args.out) / "tuning.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
