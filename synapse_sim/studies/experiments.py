"""The paper's studies: the decision-boundary reproduction (Fig. 1 and 2), Table 1 and Fig. 3 on
notMNIST, and policy selection. The machinery that runs many jobs is :mod:`.jobs` (its names
are importable from here too).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..scenario import Scenario
from .jobs import (  # noqa: F401  (re-exported: studies and notebooks import them from here)
    Job,
    check_averaged_window,
    default_processes,
    failed,
    finished,
    run_in_populations,
    run_job,
    run_jobs,
    run_or_report,
    same_task,
    stats,
    stopped_early,
)


def decision_boundary_jobs(adaptive: Scenario, static: Scenario, seeds, static_seeds, out_root) -> list[Job]:
    """Fig. 1 (adaptive, one seed per boundary) and Fig. 2 (static policy, unseen boundaries)."""
    out_root = Path(out_root)
    jobs = [
        Job(adaptive.with_overrides({"run.seed": s}), out_root / "adaptive" / f"seed{s}", f"adaptive {s}")
        for s in seeds
    ]
    jobs += [
        Job(
            static.with_overrides({"run.seed": s, "task.data_seed": s}), out_root / "static" / f"seed{s}", f"static {s}"
        )
        for s in static_seeds
    ]
    return jobs


def decision_boundary_table(jobs: list[Job], summaries: list[dict]) -> str:
    """Markdown: per-run final accuracy, loss and first iteration at >= 95 %, beside the paper."""
    rows = [
        "| policy | run seed | boundary (data_seed) | final accuracy | best accuracy | iteration reaching 95 % "
        "| final loss |",
        "|---|---|---|---|---|---|---|",
    ]
    for job, s in zip(jobs, summaries, strict=True):
        first = s["first_step_accuracy_95"]
        boundary = job.scenario.data_seed
        rows.append(
            f"| {job.label.split()[0]} | {job.scenario['run']['seed']} | {boundary} | {s['final_accuracy']:.2%} | "
            f"{s['best_accuracy']:.2%} | {first if first else 'not reached'} | {s['final_loss']:.6f} |"
        )
    for mode, paper in (("adaptive", "95.9 %, loss 0.004023"), ("static", "97.7 %, loss 0.003411")):
        accs = [s["final_accuracy"] for j, s in zip(jobs, summaries, strict=True) if j.label.startswith(mode)]
        if accs:
            hits = sum(a >= 0.95 for a in accs)
            rows.append(
                f"| **{mode}** | {len(accs)} runs | | mean {np.mean(accs):.2%} | | "
                f"final >= 95 %: {hits}/{len(accs)} | paper: {paper} |"
            )
    return "\n".join(rows) + "\n"


PAPER_TABLE1 = {
    "Syn. RL 32 HU": {"min": 87.88, "max": 89.12, "mean": 88.45, "stdev": 0.60, "runtime": "5.5 h", "params": 25450},
    "Grad. desc. 32 HU": {
        "min": 88.57,
        "max": 90.00,
        "mean": 89.56,
        "stdev": 0.52,
        "runtime": "20 min",
        "params": 25450,
    },
    "Syn. RL 0 HU": {"min": 87.65, "max": 88.84, "mean": 88.28, "stdev": 0.41, "runtime": "1.5 h", "params": 7850},
    "Grad. desc. 0 HU": {"min": 86.11, "max": 86.73, "mean": 86.42, "stdev": 0.22, "runtime": "5 min", "params": 7850},
}
TABLE1_SCENARIOS = {
    "Syn. RL 32 HU": "notmnist_32hu.toml",
    "Grad. desc. 32 HU": "notmnist_32hu_gd.toml",
    "Syn. RL 0 HU": "notmnist_0hu.toml",
    "Grad. desc. 0 HU": "notmnist_0hu_gd.toml",
}


TABLE1_TWINS = {"Syn. RL 32 HU": "Grad. desc. 32 HU", "Syn. RL 0 HU": "Grad. desc. 0 HU"}


def table1_jobs(scenario_dir, seeds, out_root, data=None, max_iterations=None, sets=()) -> list[Job]:
    """The four Table 1 experiments x seeds; RL and GD of one seed share split and initial weights.

    ``seeds`` is one list for all four, or a mapping from experiment label to its seeds.
    """
    jobs = []
    for label, filename in TABLE1_SCENARIOS.items():
        base = Scenario.load(Path(scenario_dir) / filename).with_sets(list(sets))
        if data is not None:
            base = base.with_overrides({"task.data": str(data)})
        if max_iterations and base["run"]["method"] == "synaptic_rl":
            base = base.with_overrides({"run.iterations": min(max_iterations, base["run"]["iterations"])})
        slug = Path(filename).stem
        own = seeds[label] if isinstance(seeds, dict) else seeds
        jobs += [Job(base.with_overrides({"run.seed": s}), Path(out_root) / slug / f"seed{s}", label) for s in own]
    return jobs


def table1_seeds_to_add(seeds: dict, summaries: dict, n_runs: int, max_seeds: int) -> dict:
    """Next seeds for each RL experiment (and its GD twin) whose runs were stopped early.

    The authors' script stopped a run still below 20 % accuracy at 25,000 iterations and
    ran another; here the replacement is the next unused seed, up to ``max_seeds`` in all.
    """
    added = {}
    for rl, gd in TABLE1_TWINS.items():
        if rl not in seeds:
            continue
        kept = sum(not stopped_early(summaries[(rl, s)]) for s in seeds[rl])
        missing = min(n_runs - kept, max_seeds - len(seeds[rl]))
        if missing > 0:
            new = list(range(max(seeds[rl]) + 1, max(seeds[rl]) + 1 + missing))
            added[rl] = new
            added[gd] = new
    return added


def run_table1(scenario_dir, n_runs, out_root, data=None, max_iterations=None, sets=(), processes=None, max_seeds=None):
    """Run Table 1 until each RL experiment has ``n_runs`` runs not stopped early (or ``max_seeds`` tried).

    Returns the jobs and summaries that count (stopped runs and their GD twins left out)
    and the stopped runs, so the table can say how many were replaced.
    """
    seeds = {label: list(range(n_runs)) for label in TABLE1_SCENARIOS}
    max_seeds = max_seeds or 2 * n_runs
    summaries = {}
    while True:
        jobs = table1_jobs(scenario_dir, seeds, out_root, data, max_iterations, sets)
        todo = [j for j in jobs if (j.label, j.scenario["run"]["seed"]) not in summaries]
        for job, summary in zip(todo, run_jobs(todo, processes), strict=True):
            summaries[(job.label, job.scenario["run"]["seed"])] = summary
        added = table1_seeds_to_add(seeds, summaries, n_runs, max_seeds)
        if not added:
            break
        for label, new in added.items():
            seeds[label] += new
    stopped = sorted(key for key, summary in summaries.items() if stopped_early(summary))
    dropped = {*stopped, *((TABLE1_TWINS[label], seed) for label, seed in stopped)}
    kept = [j for j in jobs if (j.label, j.scenario["run"]["seed"]) not in dropped]
    return kept, [summaries[(j.label, j.scenario["run"]["seed"])] for j in kept], stopped


def table1_rows(jobs: list[Job], summaries: list[dict], stopped=()) -> list[dict]:
    """One row per experiment; ``stopped`` lists (label, seed) of RL runs stopped early and replaced."""
    rows = []
    for label in TABLE1_SCENARIOS:
        runs = [(j, s) for j, s in zip(jobs, summaries, strict=True) if j.label == label]
        if not runs:
            continue
        accuracy = stats([100 * s["final_validation_accuracy"] for _, s in runs])
        job = runs[0][0]
        rows.append(
            {
                "experiment": label,
                **{k: round(v, 2) for k, v in accuracy.items()},
                "runs": len(runs),
                "seeds": [j.scenario["run"]["seed"] for j, _ in runs],
                "stopped_early": [seed for name, seed in stopped if name == label],
                "iterations": job.scenario["run"]["iterations"]
                if job.scenario["run"]["method"] == "synaptic_rl"
                else f"{int(np.mean([s['epochs'] for _, s in runs]))} epochs (mean)",
                "wall_time_s": round(float(np.mean([s["wall_time_s"] for _, s in runs])), 1),
                "params": runs[0][1]["n_synapses"],
            }
        )
    return rows


def table1_markdown(rows: list[dict]) -> str:
    lines = [
        "| experiment | | min | max | mean | stdev | runs | training | wall time / run | params |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        paper = PAPER_TABLE1[row["experiment"]]
        lines.append(
            f"| {row['experiment']} | **ours** | {row['min']:.2f} % | {row['max']:.2f} % | "
            f"{row['mean']:.2f} % | {row['stdev']:.2f} % | {_runs_cell(row)} | {row['iterations']} | "
            f"{row['wall_time_s']:.0f} s | {row['params']:,} |"
        )
        lines.append(
            f"| | paper | {paper['min']:.2f} % | {paper['max']:.2f} % | {paper['mean']:.2f} % | "
            f"{paper['stdev']:.2f} % | 5 | | {paper['runtime']} | {paper['params']:,} |"
        )
    return "\n".join(lines) + "\n"


def _runs_cell(row: dict) -> str:
    if not row["stopped_early"]:
        return str(row["runs"])
    seeds = ", ".join(map(str, row["stopped_early"]))
    return f"{row['runs']} (+{len(row['stopped_early'])} stopped early: seed {seeds})"


def table1_csv(rows: list[dict]) -> str:
    keys = ["experiment", "min", "max", "mean", "stdev", "runs", "iterations", "wall_time_s", "params"]
    lines = [",".join([*keys, "paper_mean", "seeds", "stopped_early_seeds"])]
    for row in rows:
        lines.append(
            ",".join(str(row[k]) for k in keys)
            + f",{PAPER_TABLE1[row['experiment']]['mean']}"
            + f",{' '.join(map(str, row['seeds']))},{' '.join(map(str, row['stopped_early']))}"
        )
    return "\n".join(lines) + "\n"


def figure3(rl_dir, gd_dir, title: str = "784-32-10 on notMNIST: synaptic RL vs gradient descent"):
    """Fig. 3 style: training and validation loss and accuracy, synaptic RL (per iteration) vs GD (per epoch)."""
    from matplotlib.figure import Figure

    with np.load(Path(rl_dir) / "history.npz") as rl_file, np.load(Path(gd_dir) / "history.npz") as gd_file:
        rl = {k: rl_file[k] for k in rl_file.files}
        gd = {k: gd_file[k] for k in gd_file.files}
    fig = Figure(figsize=(11, 7.5))
    axes = fig.subplots(2, 2)
    smooth = max(1, rl["step"].size // 500)
    kernel = np.ones(smooth) / smooth
    steps = rl["step"][smooth - 1 :]
    panels = (
        ("loss", "train_loss", "val_loss", "validation_loss"),
        ("accuracy", "train_accuracy", "val_accuracy", "validation_accuracy"),
    )
    for row, (name, gd_train, gd_val, rl_val) in enumerate(panels):
        ax = axes[row, 0]
        ax.plot(steps, np.convolve(rl[name], kernel, mode="valid"), label="synaptic RL, training minibatch")
        ax.plot(rl["validation_step"], rl[rl_val], label="synaptic RL, validation")
        ax.set_xlabel("iteration")
        ax.set_ylabel(name)
        ax.set_title(f"synaptic RL: {name}")
        ax = axes[row, 1]
        ax.plot(gd["epoch"], gd[gd_train], label="gradient descent, training")
        ax.plot(gd["epoch"], gd[gd_val], label="gradient descent, validation")
        ax.set_xlabel("epoch (full batch)")
        ax.set_title(f"gradient descent: {name}")
        for a in axes[row]:
            a.legend(fontsize=8)
            a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def select_policy(
    adaptive: Scenario, static: Scenario, seeds, screen_seeds, out_root, processes=None, screen_iterations=None
):
    """Learn a policy per adaptive seed, screen each one frozen on held-out runs, return the best.

    The screen runs ``static`` with each learned table on ``screen_seeds`` (boundaries, or
    notMNIST splits and initial weights), for ``screen_iterations`` if given; they must
    differ from the seeds the chosen policy is finally judged on. Where the screen task
    holds data out, the score is the validation accuracy, else the training accuracy.
    The report lists every candidate's screen score so the hit rate of "a frozen
    snapshot that works" stays visible.
    """
    out_root = Path(out_root)
    learn = [
        Job(adaptive.with_overrides({"run.seed": s}), out_root / "learn" / f"seed{s}", f"learn {s}") for s in seeds
    ]
    run_jobs(learn, processes)
    boundary = static["task"]["name"] == "decision_boundary"
    overrides = {"run.early_stop_iteration": None}  # a screen ranks every candidate at the same length
    if screen_iterations:
        overrides["run.iterations"] = screen_iterations
    screen = [
        Job(
            static.with_overrides(
                {**overrides, "policy.file": str(job.out_dir / "policy"), "run.seed": b, "task.data_seed": b}
            ),
            out_root / "screen" / f"policy{job.scenario['run']['seed']}" / f"{'boundary' if boundary else 'seed'}{b}",
            f"screen {job.scenario['run']['seed']} {b}",
        )
        for job in learn
        for b in screen_seeds
    ]
    # the candidates on one screen seed share its task: they run as a lockstep population
    results = run_in_populations(screen, processes)
    scores = {}
    for job, summary in zip(screen, results, strict=True):
        score = summary.get("final_validation_accuracy", summary["final_accuracy"])
        scores.setdefault(int(job.label.split()[1]), []).append(score)
    best = max(scores, key=lambda s: (np.mean(scores[s]), -s))
    what = "boundaries" if boundary else f"{static['task']['name']} seeds"
    lines = [
        f"| learned on run seed | frozen, final accuracy on screen {what} {list(screen_seeds)} | mean |",
        "|---|---|---|",
    ]
    for s, accs in scores.items():
        mark = " **(chosen)**" if s == best else ""
        lines.append(f"| {s}{mark} | {', '.join(f'{a:.1%}' for a in accs)} | {np.mean(accs):.2%} |")
    return out_root / "learn" / f"seed{best}" / "policy", "\n".join(lines) + "\n"
