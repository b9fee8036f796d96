"""Rules side by side, counted in loss evaluations: ``synapse-sim compare``.

Every scenario runs on the same seeds; a seed fixes the split, the initial weights and
the minibatches, so every rule starts from the same network on the same data. Runs
stop at a budget of loss evaluations (one forward pass over the minibatch; synaptic
RL spends one per step plus one after each minibatch redraw, SPSA and node
perturbation two) and check the held-out set every ``check_every`` evaluations.
Gradient descent is counted in epochs (one forward and one backward pass over the
training set) and drawn on its own axis. Results folders are resumable like Table 1.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from ..scenario import GRADIENT_DESCENT, Scenario
from .experiments import Job, run_in_populations, stats
from .jobs import failed, run_or_report

THRESHOLDS = (0.80, 0.85, 0.88)


def label_of(scenario: Scenario, overrides=()) -> str:
    """A row name: method and network, then the overrides, e.g. ``synaptic_rl 784-10 (alpha_s=0.003)``."""
    layers = "-".join(str(n) for n in scenario["network"]["layers"])
    label = f"{scenario['run']['method']} {layers}"
    if overrides:
        label += " (" + ", ".join(o.split(".", 1)[-1].replace(" ", "") for o in overrides) + ")"
    return label


def passes_per_step(scenario: Scenario) -> int:
    from ..engine.topology import Topology
    from ..rules import make_rule

    topology = Topology.from_layers(scenario["network"]["layers"])
    return len(make_rule(scenario, topology, scenario["network"]["dtype"]).passes(1))


def parse_item(item: str) -> tuple[Scenario, list[str]]:
    """``PATH.toml@key=value@key=value``: a scenario file with its own overrides (e.g. a tuned step size)."""
    path, *assignments = item.split("@")
    return Scenario.load(path), assignments


def compare_jobs(scenarios, seeds, out_root, evaluations: int, check_every: int = 1000, data=None, sets=()):
    """One job per scenario x seed, each stopped at ``evaluations`` and checked every ``check_every``.

    A scenario is a :class:`Scenario`, a path, or ``PATH@key=value@...`` (overrides for that one).
    """
    jobs, labels = [], {}
    for item in scenarios:
        base, own = (item, []) if isinstance(item, Scenario) else parse_item(str(item))
        base = base.with_sets([*own, *sets])
        if own and not base["run"]["name"]:
            stem = Path(base.source).stem if base.source else base["run"]["method"]
            base = base.with_overrides({"run.name": stem + "@" + "@".join(own)})
        if data is not None:
            base = base.with_overrides({"task.data": str(data)})
        slug = base["run"]["name"] or (Path(base.source).stem if base.source else base["run"]["method"])
        slug = re.sub(r"[^A-Za-z0-9_.=-]+", "_", slug)
        if base["run"]["method"] != GRADIENT_DESCENT:
            every = max(1, round(check_every / passes_per_step(base)))
            base = base.with_overrides(
                {
                    "run.max_evaluations": int(evaluations),
                    "run.iterations": int(evaluations),
                    "run.validate_every": every,
                    "run.checkpoint_every": max(every, 5000),
                }
            )
        label = label_of(base, own)
        if label in labels.values():  # two scenarios of one method and network: name them by file
            label = f"{label} [{slug}]"
        labels[slug] = label
        jobs += [Job(base.with_overrides({"run.seed": s}), Path(out_root) / slug / f"seed{s}", label) for s in seeds]
    return jobs


def validation_curve(out_dir: Path, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(x, held-out accuracy): x = loss evaluations for a rule, epochs for gradient descent.

    A task without held-out data (the decision boundary) gives its accuracy on its own data. A run that
    diverged before it wrote a history has an empty curve.
    """
    if not (Path(out_dir) / "history.npz").is_file():
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    with np.load(Path(out_dir) / "history.npz", allow_pickle=False) as h:
        if scenario["run"]["method"] == GRADIENT_DESCENT:
            return h["epoch"].astype(np.int64), h["val_accuracy"].astype(np.float64)
        steps = h["validation_step"].astype(np.int64)
        if steps.size:
            return h["evaluations"][steps - 1].astype(np.int64), h["validation_accuracy"].astype(np.float64)
        every = max(1, int(scenario["run"]["validate_every"]))  # no held-out data: accuracy on the task's data
        n = h["accuracy"].size
        picked = np.arange(every - 1, n, every)
        if n and (not picked.size or picked[-1] != n - 1):  # the end of the run counts as a check
            picked = np.append(picked, n - 1)
        return h["evaluations"][picked].astype(np.int64), h["accuracy"][picked].astype(np.float64)


def first_reaching(x: np.ndarray, accuracy: np.ndarray, threshold: float) -> int | None:
    hits = np.flatnonzero(accuracy >= threshold)
    return int(x[hits[0]]) if hits.size else None


def compare_rows(jobs: list[Job], summaries: list[dict], thresholds=THRESHOLDS, curves=None) -> list[dict]:
    """One row per label; ``curves`` maps a job's folder to its :func:`validation_curve` (read here if absent)."""
    curves_of = curves or {j.out_dir: validation_curve(j.out_dir, j.scenario) for j in jobs}
    rows = []
    for label in dict.fromkeys(j.label for j in jobs):
        runs = [(j, s) for j, s in zip(jobs, summaries, strict=True) if j.label == label]
        scenario = runs[0][0].scenario
        gd = scenario["run"]["method"] == GRADIENT_DESCENT
        curves = [curves_of[j.out_dir] for j, _ in runs]
        diverged = sum(failed(s) for _, s in runs)
        ends = [
            s["final_validation_accuracy"] if gd else acc[-1]
            for (_, acc), (_, s) in zip(curves, runs, strict=True)
            if not failed(s) and (gd or acc.size)
        ]
        final = stats([100 * a for a in ends]) if ends else dict.fromkeys(("mean", "stdev", "min", "max"), math.nan)
        row = {
            "label": label,
            "method": scenario["run"]["method"],
            "layers": "-".join(map(str, scenario["network"]["layers"])),
            "currency": "epochs" if gd else "loss evaluations",
            "seeds": [j.scenario["run"]["seed"] for j, _ in runs],
            "final_mean": round(final["mean"], 2),
            "final_stdev": round(final["stdev"], 2),
            "final_min": round(final["min"], 2),
            "final_max": round(final["max"], 2),
            "diverged": diverged,
            "spent": int(np.mean([x[-1] if x.size else 0 for x, _ in curves])),
            "wall_time_s": round(float(np.mean([s["wall_time_s"] for _, s in runs])), 1),
            "status": sorted({s["status"] for _, s in runs}),
        }
        for t in thresholds:
            reached = [first_reaching(x, acc, t) for x, acc in curves]
            hit = [r for r in reached if r is not None]
            every = len(hit) == len(reached)
            key = round(100 * t)
            row[f"to_{key}"] = int(np.mean(hit)) if every else None
            row[f"median_to_{key}"] = int(np.median(hit)) if every else None
            row[f"reached_{key}"] = f"{len(hit)}/{len(reached)}"
            # seconds: each run's wall time pro rata to the work done by its first check at t
            seconds = [
                s["wall_time_s"] * r / x[-1] for (x, _), (_, s), r in zip(curves, runs, reached, strict=True) if r
            ]
            row[f"seconds_to_{key}"] = round(float(np.mean(seconds)), 1) if every else None
        rows.append(row)
    return rows


def _cell(row: dict, t: float) -> str:
    key = round(100 * t)
    value = row[f"to_{key}"]
    reached = row[f"reached_{key}"]
    if value is None:
        return f"not reached ({reached})" if reached.startswith("0/") else f"{reached} runs"
    return f"{value:,} ({row[f'seconds_to_{key}']:.1f} s)"


def compare_markdown(rows: list[dict], thresholds=THRESHOLDS) -> str:
    head = ["rule (network)", "counted in"] + [f"to {round(100 * t)} % (mean)" for t in thresholds]
    head += ["held-out accuracy at the end", "spent", "wall time per run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["label"], r["currency"]] + [_cell(r, t) for t in thresholds]
        end = f"{r['final_mean']:.2f} % ± {r['final_stdev']:.2f} ({r['final_min']:.2f}-{r['final_max']:.2f})"
        if r.get("diverged"):
            lost = f"{r['diverged']} of {len(r['seeds'])} runs diverged (loss not finite)"
            end = lost if math.isnan(r["final_mean"]) else f"{end}; {lost}"
        cells += [
            end,
            f"{r['spent']:,}",
            f"{r['wall_time_s']:.1f} s",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    seeds = sorted({s for r in rows for s in r["seeds"]})
    lines.append("")
    lines.append(
        f"Seeds {seeds}: every rule on the same splits, initial weights and minibatches. 'to N %': the first "
        "held-out check at or above N %, averaged over the seeds (shown only when every seed got there), and in "
        "brackets the seconds it took (each run's wall time pro rata). Gradient descent is counted in epochs "
        "(forward + backward over the training set); its accuracy at the end is at its best validation loss."
    )
    return "\n".join(lines) + "\n"


def compare_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    keys = [k for k in rows[0] if k not in ("seeds", "status")] + ["seeds", "status"]
    writer = csv.DictWriter(out, fieldnames=keys)
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "seeds": " ".join(map(str, r["seeds"])), "status": "; ".join(r["status"])})
    return out.getvalue()


def compare_figure(jobs: list[Job], title: str = "accuracy per unit of work", thresholds=THRESHOLDS, curves=None):
    """Left: rules against loss evaluations; right: gradient descent against epochs (if any)."""
    curves = curves or {j.out_dir: validation_curve(j.out_dir, j.scenario) for j in jobs}
    from matplotlib.figure import Figure

    gd_jobs = [j for j in jobs if j.scenario["run"]["method"] == GRADIENT_DESCENT]
    n_labels = len(dict.fromkeys(j.label for j in jobs))
    fig = Figure(figsize=(12 if gd_jobs else 7.5, 4.4 + 0.25 * ((n_labels + 1) // 2)))
    axes = fig.subplots(1, 2 if gd_jobs else 1, squeeze=False)[0]
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(j.label for j in jobs))}
    drawn = set()
    for j in jobs:
        ax = axes[1] if j in gd_jobs else axes[0]
        x, acc = curves[j.out_dir]
        if not x.size:
            continue
        label = None if j.label in drawn else j.label
        drawn.add(j.label)
        ax.plot(x, 100 * acc, lw=1.2, alpha=0.85, color=colours[j.label], label=label)
    axes[0].set_xlabel("loss evaluations (forward passes over the minibatch)")
    axes[0].set_title("synapse-local rules")
    if gd_jobs:
        axes[1].set_xlabel("epochs (forward + backward over the training set)")
        axes[1].set_title("gradient descent")
    held_out = any(j.scenario["task"]["name"] != "decision_boundary" for j in jobs)
    for ax in axes:
        ax.set_ylabel("held-out accuracy (%)" if held_out else "accuracy on the task's data (%)")
        ax.grid(alpha=0.3)
        low = min(line.get_ydata().min() for line in ax.lines) if ax.lines else 0
        ax.set_ylim(max(0, math.floor(low / 10) * 10), 100)
        for t in thresholds:
            ax.axhline(100 * t, color="grey", lw=0.6, ls=":")
    handles = [h for ax in axes for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.06 * ((len(handles) + 1) // 2), 1, 1))
    return fig


def run_compare(scenarios, seeds, out_root, evaluations, check_every=1000, data=None, sets=(), processes=None):
    """Run (or read back) every job; a run whose loss diverged is a result of its rule (the table says so)."""
    jobs = compare_jobs(scenarios, seeds, out_root, evaluations, check_every, data, sets)
    return jobs, run_in_populations(jobs, processes, runner=run_or_report)


def write_compare(out_root, jobs, summaries, thresholds=THRESHOLDS) -> tuple[str, list[dict]]:
    """Write compare.md / compare.csv / compare.json / compare.png into ``out_root``."""
    from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text
    from ..plots import png_bytes

    out_root = Path(out_root)
    curves = {j.out_dir: validation_curve(j.out_dir, j.scenario) for j in jobs}
    rows = compare_rows(jobs, summaries, thresholds, curves)
    table = compare_markdown(rows, thresholds)
    atomic_write_text(out_root / "compare.md", table)
    atomic_write_text(out_root / "compare.csv", compare_csv(rows))
    atomic_write_json(out_root / "compare.json", json.loads(json.dumps(rows)))
    atomic_write_bytes(out_root / "compare.png", png_bytes(compare_figure(jobs, thresholds=thresholds, curves=curves)))
    return table, rows
