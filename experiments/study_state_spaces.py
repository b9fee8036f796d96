"""Compare local state spaces: the paper's, + momentum (streak), + pre/post activity.

Decision boundaries: the adaptive scenario, 5 run seeds, 10,000 iterations each.
notMNIST 32 HU (``--notmnist PATH``): the adaptive policy of each state space is
learned on decision boundaries first (time-averaged table), then applied static to
short 784-32-10 runs (``--ocr-iterations``, 3 seeds). Prints Markdown tables and
writes ``study.md`` and ``study.png`` into ``--out``.

    .venv/bin/python experiments/study_state_spaces.py --out runs/study [--notmnist ../shared/data/notmnist]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from synapse_sim import Scenario
from synapse_sim.experiments import Job, run_jobs
from synapse_sim.io import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
PAPER = [{"name": "last_actions", "n": 2}, {"name": "last_rewards", "n": 2}]
STATE_SPACES = {
    "paper (a, R; 81 states)": PAPER,
    "paper + streak (324 states)": [*PAPER, {"name": "streak", "cap": 3}],
    "paper + pre/post activity (729 states)": [*PAPER, {"name": "pre_activity"}, {"name": "post_activity"}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/study")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--notmnist", help="notMNIST data: also run the short 32 HU comparison")
    parser.add_argument("--ocr-iterations", type=int, default=50_000)
    parser.add_argument("--ocr-seeds", type=int, default=3)
    parser.add_argument("--processes", type=int)
    args = parser.parse_args()
    out = Path(args.out)
    adaptive = Scenario.load(ROOT / "scenarios" / "decision_boundary_adaptive.toml")
    jobs = [
        Job(
            adaptive.with_overrides({"state.features": spec, "run.seed": s}),
            out / "db" / f"space{i}" / f"seed{s}",
            name,
        )
        for i, (name, spec) in enumerate(STATE_SPACES.items())
        for s in range(args.seeds)
    ]
    summaries = run_jobs(jobs, args.processes)
    lines = [
        "| state space | final accuracy, mean (min-max) | runs reaching 95 % | iterations to 95 %, median |",
        "|---|---|---|---|",
    ]
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, name in enumerate(STATE_SPACES):
        runs = [(j, s) for j, s in zip(jobs, summaries, strict=True) if j.label == name]
        acc = np.array([s["final_accuracy"] for _, s in runs])
        first = [s["first_step_accuracy_95"] for _, s in runs if s["first_step_accuracy_95"]]
        lines.append(
            f"| {name} | {acc.mean():.2%} ({acc.min():.2%}-{acc.max():.2%}) | {len(first)}/{len(runs)} | "
            f"{int(np.median(first)) if first else 'not reached'} |"
        )
        curves = []
        for job, _ in runs:
            with np.load(job.out_dir / "history.npz") as h:
                curves.append(h["accuracy"])
        ax.plot(np.arange(1, len(curves[0]) + 1), np.mean(curves, axis=0), label=name, color=f"C{i}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("accuracy (mean of seeds)")
    ax.set_title("decision boundaries, adaptive policy")
    ax.axhline(0.95, color="grey", ls=":", lw=0.8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "study.png", dpi=110)
    report = "Decision boundaries (adaptive, boundary 0, 10,000 iterations):\n\n" + "\n".join(lines) + "\n"
    if args.notmnist:
        report += "\n" + notmnist_part(args, jobs, out)
    atomic_write_text(out / "study.md", report)
    print(report)


def notmnist_part(args, db_jobs, out) -> str:
    """Each state space's averaged policy (learned on boundary seed 0's run) applied static to short 32 HU runs."""
    base = Scenario.load(ROOT / "scenarios" / "notmnist_32hu.toml").with_overrides(
        {"task.data": str(args.notmnist), "run.iterations": args.ocr_iterations, "run.validate_every": 5000}
    )
    jobs = []
    for i, (name, spec) in enumerate(STATE_SPACES.items()):
        policy = next(j for j in db_jobs if j.label == name).out_dir / "policy"
        scenario = base.with_overrides({"state.features": spec, "policy.file": str(policy)})
        jobs += [
            Job(scenario.with_overrides({"run.seed": s}), out / "ocr" / f"space{i}" / f"seed{s}", name)
            for s in range(args.ocr_seeds)
        ]
    summaries = run_jobs(jobs, args.processes)
    lines = [
        f"notMNIST 784-32-10, static policy, {args.ocr_iterations:,} iterations:",
        "",
        "| state space | validation accuracy, mean (min-max) |",
        "|---|---|",
    ]
    for name in STATE_SPACES:
        acc = np.array(
            [s["final_validation_accuracy"] for j, s in zip(jobs, summaries, strict=True) if j.label == name]
        )
        lines.append(f"| {name} | {acc.mean():.2%} ({acc.min():.2%}-{acc.max():.2%}) |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
