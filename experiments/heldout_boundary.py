"""Held-out success rates of the decision-boundary experiment (adaptive and static policy).

    .venv/bin/python experiments/heldout_boundary.py --processes 2 --out runs/heldout

Runs both decision-boundary scenarios on run seeds 1000-1019, which no reported,
tuning, policy-learning or screening run of the project used (those used 0-5, 10-12
and 100-104; the tests use small seeds). Each scenario keeps its own fixed boundary
(``task.data_seed``: 0 for adaptive, 1000 for static), so a seed changes only the
student's initial weights and its exploration; ``PATH@task.data_seed=N`` in
--scenarios swaps boundaries. Writes ``heldout.md`` and ``heldout.csv`` into --out;
a second call reads finished runs back. Runs that miss the threshold are copied and
continued to --extend iterations (0: don't) to measure whether time alone fixes them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from synapse_sim.studies.heldout import DEFAULT_SEEDS, extend_failures, run_heldout, seed_rows, write_heldout

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = [
    ROOT / "scenarios" / "decision_boundary_adaptive.toml",
    ROOT / "scenarios" / "decision_boundary_static.toml",
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=list(DEFAULT_SEEDS), help="run seeds (1000-1019)")
    parser.add_argument("--iterations", type=int, default=10000, help="the budget each run gets (10,000)")
    parser.add_argument("--threshold", type=float, default=0.95, help="accuracy a run must reach (0.95)")
    parser.add_argument("--extend", type=int, default=30000, help="continue failed runs to this many iterations")
    parser.add_argument("--scenarios", nargs="+", default=[str(p) for p in SCENARIOS])
    parser.add_argument("--processes", type=int, help="parallel runs (default: one per core)")
    parser.add_argument("--out", default="runs/heldout")
    args = parser.parse_args(argv)
    try:
        jobs, summaries = run_heldout(
            args.scenarios, args.seeds, args.out, args.iterations, args.threshold, args.processes
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows = seed_rows(jobs, summaries, args.threshold, args.iterations)
    if args.extend > args.iterations:
        extend_failures(jobs, rows, args.out, args.extend, args.threshold, args.processes)
    print(write_heldout(args.out, rows, args.threshold, args.iterations))
    print(f"results: {args.out}/heldout.md, {args.out}/heldout.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
