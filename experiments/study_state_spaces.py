"""Compare local state spaces: the paper's, + momentum (streak), + pre/post activity.

Each state space goes through the same pipeline the shipped policy went through:

1. decision boundaries, adaptive policy: 5 run seeds on boundary 0, 10,000
   iterations (iterations to 95 %, final accuracy);
2. policy selection: each run's time-averaged Q table, frozen, is screened on
   boundaries 10-12 and the best is kept (``synapse_sim.studies.experiments.select_policy``);
3. the selected policy, frozen, on 5 unseen boundaries (100-104);
4. with ``--notmnist PATH``: the selected policy, static, on short 784-32-10 runs
   (``--notmnist-iterations``, ``--notmnist-seeds``), validation accuracy every 5,000 iterations.

Finished runs are read back and interrupted ones resume, so the command can be
repeated. Prints Markdown and writes ``study.md`` and ``study.png`` into ``--out``.

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
from synapse_sim.io import atomic_write_text
from synapse_sim.studies.experiments import Job, run_jobs, select_policy

ROOT = Path(__file__).resolve().parents[1]
PAPER = [{"name": "last_actions", "n": 2}, {"name": "last_rewards", "n": 2}]
STATE_SPACES = {
    "paper (a, R; 81 states)": PAPER,
    "paper + streak (324 states)": [*PAPER, {"name": "streak", "cap": 3}],
    "paper + pre/post activity (729 states)": [*PAPER, {"name": "pre_activity"}, {"name": "post_activity"}],
}
SCREEN_BOUNDARIES = (10, 11, 12)
UNSEEN_BOUNDARIES = (100, 101, 102, 103, 104)
OCR_GOAL = 0.75


def fmt(acc) -> str:
    acc = np.asarray(acc)
    return f"{acc.mean():.2%} ({acc.min():.2%}-{acc.max():.2%})"


def median_or_none(values) -> str:
    return f"{int(np.median(values)):,}" if values else "not reached"


def history(job: Job) -> dict:
    with np.load(job.out_dir / "history.npz") as h:
        return {k: h[k] for k in h.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/study")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--notmnist", help="notMNIST data: also run the short 32 HU comparison")
    parser.add_argument("--notmnist-iterations", type=int, default=50_000)
    parser.add_argument("--notmnist-seeds", type=int, default=3)
    parser.add_argument("--processes", type=int)
    args = parser.parse_args()
    out = Path(args.out)
    adaptive = Scenario.load(ROOT / "scenarios" / "decision_boundary_adaptive.toml")
    static = Scenario.load(ROOT / "scenarios" / "decision_boundary_static.toml")
    seeds = list(range(args.seeds))
    spaces = list(STATE_SPACES.items())

    learn = [
        Job(
            adaptive.with_overrides({"state.features": spec, "run.seed": s}),
            out / f"space{i}" / "learn" / f"seed{s}",
            name,
        )
        for i, (name, spec) in enumerate(spaces)
        for s in seeds
    ]
    learned = run_jobs(learn, args.processes)
    policies, selections = {}, []
    for i, (name, spec) in enumerate(spaces):
        policies[name], table = select_policy(
            adaptive.with_overrides({"state.features": spec}),
            static.with_overrides({"state.features": spec}),
            seeds,
            SCREEN_BOUNDARIES,
            out / f"space{i}",
            args.processes,
        )
        selections.append(f"{name}:\n\n{table}")
    frozen = [
        Job(
            static.with_overrides(
                {"state.features": spec, "policy.file": str(policies[name]), "run.seed": b, "task.data_seed": b}
            ),
            out / f"space{i}" / "unseen" / f"boundary{b}",
            name,
        )
        for i, (name, spec) in enumerate(spaces)
        for b in UNSEEN_BOUNDARIES
    ]
    frozen_results = run_jobs(frozen, args.processes)

    lines = [
        "| state space | adaptive: final accuracy, mean (min-max) | adaptive: runs reaching 95 % "
        "| adaptive: iterations to 95 %, median | selected policy frozen on 5 unseen boundaries: final accuracy "
        "| frozen: runs reaching 95 % | frozen: iterations to 95 %, median |",
        "|---|---|---|---|---|---|---|",
    ]
    fig, axes = plt.subplots(1, 3 if args.notmnist else 2, figsize=(15 if args.notmnist else 10, 4))
    for i, (name, _) in enumerate(spaces):
        row = []
        for jobs, results, ax in ((learn, learned, axes[0]), (frozen, frozen_results, axes[1])):
            runs = [(j, s) for j, s in zip(jobs, results, strict=True) if j.label == name]
            first = [s["first_step_accuracy_95"] for _, s in runs if s["first_step_accuracy_95"]]
            row += [fmt([s["final_accuracy"] for _, s in runs]), f"{len(first)}/{len(runs)}", median_or_none(first)]
            curve = np.mean([history(j)["accuracy"] for j, _ in runs], axis=0)
            ax.plot(np.arange(1, len(curve) + 1), curve, label=name, color=f"C{i}")
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    titles = ("decision boundaries, adaptive (boundary 0)", "selected policy, frozen (100-104)")
    for ax, title in zip(axes[:2], titles, strict=True):
        ax.set(xlabel="iteration", ylabel="accuracy (mean of runs)", title=title, ylim=(0.5, 1.0))
        ax.axhline(0.95, color="grey", ls=":", lw=0.8)
    axes[0].legend(fontsize=8)
    report = (
        f"Decision boundaries, 10,000 iterations, run seeds {seeds}:\n\n"
        + "\n".join(lines)
        + "\n\nPolicy selection (screen boundaries "
        + ", ".join(map(str, SCREEN_BOUNDARIES))
        + "):\n\n"
        + "\n".join(selections)
    )
    if args.notmnist:
        report += "\n" + notmnist_part(args, policies, out, axes[2])
    fig.tight_layout()
    fig.savefig(out / "study.png", dpi=110)
    atomic_write_text(out / "study.md", report)
    print(report)


def notmnist_part(args, policies, out, ax) -> str:
    """Each state space's selected policy applied static to short 784-32-10 runs."""
    base = Scenario.load(ROOT / "scenarios" / "notmnist_32hu.toml").with_overrides(
        {"task.data": str(args.notmnist), "run.iterations": args.notmnist_iterations, "run.validate_every": 5000}
    )
    jobs = [
        Job(
            base.with_overrides({"state.features": spec, "policy.file": str(policies[name]), "run.seed": s}),
            out / f"space{i}" / "notmnist" / f"seed{s}",
            name,
        )
        for i, (name, spec) in enumerate(STATE_SPACES.items())
        for s in range(args.notmnist_seeds)
    ]
    summaries = run_jobs(jobs, args.processes)
    lines = [
        f"notMNIST 784-32-10, selected policy static, {args.notmnist_iterations:,} iterations, "
        f"seeds 0-{args.notmnist_seeds - 1}:",
        "",
        f"| state space | validation accuracy, mean (min-max) | runs reaching {OCR_GOAL:.0%} "
        f"| iterations to {OCR_GOAL:.0%}, median |",
        "|---|---|---|---|",
    ]
    for i, name in enumerate(STATE_SPACES):
        runs = [(j, s) for j, s in zip(jobs, summaries, strict=True) if j.label == name]
        curves = [history(j) for j, _ in runs]
        first = [
            int(h["validation_step"][np.argmax(h["validation_accuracy"] >= OCR_GOAL)])
            for h in curves
            if (h["validation_accuracy"] >= OCR_GOAL).any()
        ]
        acc = [s["final_validation_accuracy"] for _, s in runs]
        lines.append(f"| {name} | {fmt(acc)} | {len(first)}/{len(runs)} | {median_or_none(first)} |")
        for k, h in enumerate(curves):
            ax.plot(h["validation_step"], h["validation_accuracy"], color=f"C{i}", label=name if k == 0 else None)
    ax.set(xlabel="iteration", ylabel="validation accuracy (each seed)", title="notMNIST 784-32-10, static")
    ax.axhline(OCR_GOAL, color="grey", ls=":", lw=0.8)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
