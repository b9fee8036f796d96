"""Issue 18's meta-test report: finished `compare` folders merged into one table and one figure.

    python experiments/report_learn_rule.py --out docs/learn_rule_0hu RUNS/0hu_10k RUNS/0hu_10k_b

Every finished ``RULE_FOLDER/seedN`` under the given compare folders is read back (nothing is run; an
interrupted run is left out); rows are
labelled by the rule's folder name, or by ``--label FOLDER_SUBSTRING LABEL`` (the first that matches).
Writes OUT.md (the table, with the median evaluations to each threshold, 80 / 85 / 88 % unless
``--thresholds`` says otherwise, beside the mean) and OUT.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synapse_sim import Scenario
from synapse_sim.io import atomic_write_text
from synapse_sim.studies.compare import THRESHOLDS, compare_figure, compare_markdown, compare_rows
from synapse_sim.studies.jobs import Job


def jobs_in(folders, labels: dict[str, str]) -> tuple[list[Job], list[dict]]:
    """The finished runs under ``folders`` and their summaries; an interrupted one (a study stopped for
    time) is left out, and said."""
    jobs, summaries = [], []
    for folder in folders:
        for run in sorted(Path(folder).glob("*/seed*")):
            if not (run / "summary.json").is_file():
                continue
            summary = json.loads((run / "summary.json").read_text())
            if summary.get("status", "").startswith("interrupted"):
                print(f"left out, {summary['status']}: {run}")
                continue
            name = run.parent.name
            label = next((v for k, v in labels.items() if k in name), name)
            jobs.append(Job(Scenario.load(run / "scenario.toml"), run, label))
            summaries.append(summary)
    return jobs, summaries


def median_cells(row: dict, thresholds=THRESHOLDS) -> list[str]:
    """Evaluations to each threshold, the median over the seeds (or how many seeds got there)."""
    cells = []
    for t in thresholds:
        key = round(100 * t)
        median = row[f"median_to_{key}"]
        cells.append(f"{median:,}" if median is not None else f"{row[f'reached_{key}']} runs")
    return cells


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--label", action="append", nargs=2, default=[], metavar=("SUBSTRING", "LABEL"))
    parser.add_argument("--title", default="notMNIST: held-out accuracy per loss evaluation (seeds 5-9)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=list(THRESHOLDS))
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    labels = dict(args.label)
    jobs, summaries = jobs_in(args.folders, labels)
    thresholds = args.thresholds
    rows = compare_rows(jobs, summaries, thresholds)
    table = compare_markdown(rows, thresholds)
    head = ["rule"] + [f"median to {round(100 * t)} %" for t in thresholds]
    median_lines = ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    median_lines += [f"| {row['label']} | " + " | ".join(median_cells(row, thresholds)) + " |" for row in rows]
    atomic_write_text(Path(f"{args.out}.md"), table + "\n" + "\n".join(median_lines) + "\n")
    compare_figure(jobs, title=args.title).savefig(f"{args.out}.png", dpi=100)
    print(table + "\n" + "\n".join(median_lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
