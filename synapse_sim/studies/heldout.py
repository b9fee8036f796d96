"""Held-out success rates: one scenario on seeds never used for tuning, reporting or policy learning.

A handful of reported seeds says little about how often a run succeeds; this runs the
scenario on fresh seeds (``run.seed``: the student's initial weights and exploration;
the task's ``data_seed`` keeps the boundary fixed), counts the runs whose first check
at or above ``threshold`` comes within the iteration budget (with a Wilson 95 %
interval), and measures what separates the failures from the successes. Results
folders are resumable as in :mod:`.experiments`: a finished run is read back.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
from collections import deque
from pathlib import Path

import numpy as np

from ..scenario import Scenario
from .compare import first_reaching, parse_item
from .experiments import Job, run_in_populations

DEFAULT_SEEDS = tuple(range(1000, 1020))
# the paper's single run per figure (Bhargava et al. 2022, Figs. 1-2), keyed by policy.mode
PAPER = {"adaptive": "Fig. 1: one run, 95.9 %, loss 0.004023", "static": "Fig. 2: one run, 97.7 %, loss 0.003411"}
SATURATED = 0.95  # |tanh| above this: the unit acts as a step, its line through the data a sharp edge


def check_study(seeds: list, threshold: float) -> None:
    """Refuse a study that cannot mean anything, before any run starts (the scenario checks the rest)."""
    if not seeds:
        raise ValueError("no seeds: a success rate needs at least one run")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds repeat: {seeds}; each run must be a different seed")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold {threshold} is not an accuracy in (0, 1]")


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval: unlike p +- z*se it stays inside [0, 1] and is honest at 0/n and n/n."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes}/{n}")
    p, shrink = successes / n, 1 + z * z / n
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / shrink
    centre = (p + z * z / (2 * n)) / shrink
    return max(0.0, centre - half), min(1.0, centre + half)


def heldout_jobs(scenario: Scenario, seeds, out_root, iterations: int, label: str | None = None) -> list[Job]:
    """One job per seed in ``out_root/<label>/seed<N>``; the label defaults to the scenario file's stem."""
    label = label or (Path(scenario.source).stem if scenario.source else scenario["run"]["method"])
    folder = Path(out_root) / re.sub(r"[^A-Za-z0-9_.=-]+", "_", label)
    base = scenario.with_overrides({"run.iterations": int(iterations)})
    return [Job(base.with_overrides({"run.seed": int(s)}), folder / f"seed{s}", label) for s in seeds]


def run_heldout(scenarios, seeds, out_root, iterations=10000, threshold=0.95, processes=None):
    """Run every scenario on every seed; returns (jobs, summaries). A scenario is a :class:`Scenario`,
    a path, or ``PATH@key=value@...`` (e.g. another boundary: ``@task.data_seed=0``)."""
    seeds = list(seeds)
    check_study(seeds, threshold)
    jobs = []
    for item in scenarios:
        if isinstance(item, Scenario):
            jobs += heldout_jobs(item, seeds, out_root, iterations)
            continue
        base, own = parse_item(str(item))
        jobs += heldout_jobs(base.with_sets(own), seeds, out_root, iterations, "@".join([Path(base.source).stem, *own]))
    return jobs, run_in_populations(jobs, processes)


def accuracy_curve(out_dir, budget: int) -> tuple[np.ndarray, np.ndarray]:
    """(iteration, accuracy) of every check within the budget: held-out checks where the task has
    held-out data; else the accuracy on the task's own data, which the boundary measures every step."""
    with np.load(Path(out_dir) / "history.npz", allow_pickle=False) as h:
        held_out = h["validation_step"].size > 0
        x = h["validation_step" if held_out else "step"].astype(np.int64)
        acc = h["validation_accuracy" if held_out else "accuracy"].astype(float)
    return x[x <= budget], acc[x <= budget]


def longest_plateau(accuracy: np.ndarray, band: float = 0.01) -> tuple[int, float]:
    """The longest run of consecutive checks within ``band`` of each other: (length, mean level).

    A long flat stretch below the threshold is a run stuck in one configuration, not one learning slowly.
    """
    low, high = deque(), deque()  # indices of the window's running min and max
    best, level, start = 0, float("nan"), 0
    for end, value in enumerate(accuracy):
        while low and accuracy[low[-1]] >= value:
            low.pop()
        while high and accuracy[high[-1]] <= value:
            high.pop()
        low.append(end)
        high.append(end)
        while accuracy[high[0]] - accuracy[low[0]] > band:
            start += 1
            for q in (low, high):
                if q[0] < start:
                    q.popleft()
        if end + 1 - start > best:
            best, level = end + 1 - start, float(accuracy[start : end + 1].mean())
    return best, level


def boundary_geometry(task, weights) -> dict:
    """The student against the teacher on the decision boundary.

    The data reach |x| = 10 and the weights are ~0.5, so most tanh units are saturated
    steps and far from the origin a label depends on the angle only: the teacher (no
    biases) draws its boundary as rays from the origin. On a circle at 95 % of the
    extent: the teacher's and the student's rays, the teacher's rays the student has
    (one within 5 degrees) and the share of angles labelled wrong; over the data: the
    saturated (unit, point) pairs and the hidden units constant over every point.
    """
    from ..tasks.base import mlp_forward

    angle = np.linspace(0, 2 * np.pi, 3600, endpoint=False)
    circle = 0.95 * task.extent * np.column_stack([np.cos(angle), np.sin(angle)])
    teacher = mlp_forward(circle, task.target_weights, task.hidden_activation)[0][:, 0] > 0
    student = mlp_forward(circle.astype(weights[0].dtype), weights, task.hidden_activation)[0][:, 0] > 0
    rays = [np.degrees(angle[labels != np.roll(labels, 1)]) for labels in (teacher, student)]
    apart = np.abs((rays[0][:, None] - rays[1][None, :] + 180) % 360 - 180)
    pre = task.x @ weights[0][:-1] + weights[0][-1]
    return {
        "teacher_rays": rays[0].size,
        "rays": rays[1].size,
        "matched_rays": int(np.sum(apart.min(axis=1) <= 5)) if rays[1].size else 0,
        "wrong_angles": float(np.mean(teacher != student)),
        "saturated": float(np.mean(np.abs(np.tanh(pre)) > SATURATED)),
        "constant_units": float(np.mean(np.all(pre > 0, axis=0) | np.all(pre < 0, axis=0))),
        "accuracy": float(task.evaluate(weights, 0).accuracy),
    }


def diagnose(job: Job, budget: int) -> dict:
    """What the folder says about one run: actions and reward, the last stretch, start and end geometry."""
    from ..engine.simulation import Simulation

    x, acc = accuracy_curve(job.out_dir, budget)
    with np.load(job.out_dir / "history.npz", allow_pickle=False) as h:
        n = min(budget, h["step"].size)
        at_budget = h["step"].size == budget  # then the checkpoint holds the weights at the end of the budget
        tail = slice(n - n // 10, n)  # the last tenth of the budget
        out = {f"{k}_last": float(np.mean(h[k][tail])) for k in ("decrement", "keep", "increment")}
        out["reward_up"] = float(np.mean(h["reward"][:n] > 0))
    window = x > x[-1] - budget // 5  # the last fifth: still rising? (accuracy points per 1,000 iterations)
    out["rise_per_1000"] = 100_000 * float(np.polyfit(x[window], acc[window], 1)[0]) if window.sum() > 1 else 0.0
    out["plateau_checks"], out["plateau_level"] = longest_plateau(acc)
    if job.scenario["task"]["name"] == "decision_boundary" and at_budget:
        simulation = Simulation(job.scenario)
        with np.load(job.out_dir / "checkpoint.npz", allow_pickle=False) as c:
            end = c["engine_weights"].copy()
        for when, w in (("start", simulation.initial_weights()), ("end", end)):
            geometry = boundary_geometry(simulation.task, simulation.topology.matrices(w))
            out["teacher_rays"] = geometry.pop("teacher_rays")
            out.update({f"{k}_{when}": v for k, v in geometry.items()})
    return out


def seed_rows(jobs: list[Job], summaries: list[dict], threshold: float, iterations: int) -> list[dict]:
    """One row per run: the first check at ``threshold``, end and best accuracy in the budget, :func:`diagnose`."""
    rows = []
    for job, summary in zip(jobs, summaries, strict=True):
        x, acc = accuracy_curve(job.out_dir, iterations)
        scenario = job.scenario
        rows.append(
            {
                "scenario": job.label,
                "policy": scenario["policy"]["mode"] if "policy" in scenario.data else "",
                "seed": scenario["run"]["seed"],
                "data_seed": scenario["task"].get("data_seed"),
                "reached_at": first_reaching(x, acc, threshold),
                "final": float(acc[-1]),
                "best": float(acc.max()),
                "status": summary["status"],
                **diagnose(job, iterations),
            }
        )
    return rows


def summary_rows(rows: list[dict], threshold: float) -> list[dict]:
    """Per scenario: success counts with Wilson intervals, accuracy quartiles, iterations to threshold."""
    out = []
    for label in dict.fromkeys(r["scenario"] for r in rows):
        runs = [r for r in rows if r["scenario"] == label]
        hit = [r["reached_at"] for r in runs if r["reached_at"] is not None]
        final = sum(r["final"] >= threshold for r in runs)
        spread = {k: np.percentile([100 * r[k] for r in runs], [0, 25, 50, 75, 100]) for k in ("final", "best")}
        out.append(
            {
                **{k: runs[0][k] for k in ("scenario", "policy", "data_seed")},
                "runs": len(runs),
                "reached": len(hit),
                "reached_ci": wilson(len(hit), len(runs)),
                "final_above": final,
                "final_ci": wilson(final, len(runs)),
                **{f"{k}_quartiles": " / ".join(f"{v:.1f}" for v in q) for k, q in spread.items()},
                "to": f"{int(np.median(hit)):,} ({min(hit):,}-{max(hit):,})" if hit else "never",
            }
        )
    return out


def extend_failures(jobs, rows, out_root, iterations: int, threshold: float, processes=None) -> None:
    """Would more iterations fix it? Copy each failed run, resume it to ``iterations`` (the same randomness
    as one longer run) and add ``continued_to`` and ``reached_when_continued`` to its row."""
    failed = [(j, r) for j, r in zip(jobs, rows, strict=True) if r["reached_at"] is None]
    longer = []
    for job, _ in failed:
        target = Path(out_root) / f"extended{iterations}" / job.out_dir.parent.name / job.out_dir.name
        if not target.exists():
            shutil.copytree(job.out_dir, target)
        longer.append(Job(job.scenario.with_overrides({"run.iterations": iterations}), target, job.label))
    run_in_populations(longer, processes)
    for job, (_, row) in zip(longer, failed, strict=True):
        row["continued_to"] = iterations
        row["reached_when_continued"] = first_reaching(*accuracy_curve(job.out_dir, iterations), threshold)


MEASURES = (  # (what, row key, format) for the failures-against-successes table
    ("initial accuracy", "accuracy_start", "{:.1%}"),
    ("student's boundary rays far out, start", "rays_start", "{:.1f}"),
    ("student's boundary rays far out, end", "rays_end", "{:.1f}"),
    ("teacher's rays the student has (within 5 degrees), start", "matched_rays_start", "{:.1f}"),
    ("teacher's rays the student has (within 5 degrees), end", "matched_rays_end", "{:.1f}"),
    ("angles far out labelled wrong, end", "wrong_angles_end", "{:.1%}"),
    ("(hidden unit, point) pairs saturated, start", "saturated_start", "{:.1%}"),
    ("(hidden unit, point) pairs saturated, end", "saturated_end", "{:.1%}"),
    ("hidden units constant over the data, end", "constant_units_end", "{:.1%}"),
    ("actions keep, last 10 %", "keep_last", "{:.3f}"),
    ("actions increment, last 10 %", "increment_last", "{:.3f}"),
    ("actions decrement, last 10 %", "decrement_last", "{:.3f}"),
    ("steps where the loss fell (reward +1)", "reward_up", "{:.1%}"),
    ("accuracy change over the last 20 %, points per 1,000 it.", "rise_per_1000", "{:+.2f}"),
    ("longest plateau (checks within 1 point)", "plateau_checks", "{:,.0f}"),
    ("level of that plateau", "plateau_level", "{:.1%}"),
)


def heldout_markdown(rows, threshold: float, iterations: int) -> str:
    """The summary per scenario, the failures against the successes, and one line per seed."""
    pct = f"{100 * threshold:g} %"
    lines = [
        f"| scenario | boundary (data_seed) | runs | first check >= {pct} within {iterations:,} it. (Wilson 95 %) "
        f"| final >= {pct} (Wilson 95 %) | accuracy at the end, % (min / Q1 / median / Q3 / max) "
        f"| best accuracy, % (same) | iterations to {pct}, median (range) | paper |",
        "|" + "---|" * 9,
    ]
    for s in summary_rows(rows, threshold):
        (lo, hi), (flo, fhi), n = s["reached_ci"], s["final_ci"], s["runs"]
        lines.append(
            f"| {s['scenario']} | {s['data_seed']} | {n} | **{s['reached']}/{n}** ({lo:.0%}-{hi:.0%}) "
            f"| {s['final_above']}/{n} ({flo:.0%}-{fhi:.0%}) | {s['final_quartiles']} | {s['best_quartiles']} "
            f"| {s['to']} | {PAPER.get(s['policy'], '')} |"
        )
    groups = [
        (f"{label}, {name}", [r for r in rows if r["scenario"] == label and (r["reached_at"] is not None) == ok])
        for label in dict.fromkeys(r["scenario"] for r in rows)
        for name, ok in (("failed", False), ("reached", True))
    ]
    lines += ["", f"Runs that failed (no check >= {pct} within {iterations:,} it.) against those that reached it:", ""]
    lines += ["| mean over the runs | " + " | ".join(f"{g} ({len(r)})" for g, r in groups) + " |"]
    lines += ["|" + "---|" * (1 + len(groups))]
    for what, key, fmt in MEASURES:
        if any(key in r for r in rows):
            cells = [fmt.format(np.mean([r[key] for r in runs])) if runs else "" for _, runs in groups]
            lines.append(f"| {what} | " + " | ".join(cells) + " |")
    continued = next((r["continued_to"] for r in rows if "continued_to" in r), None)
    more = f" | failed, continued to {continued:,} it.: first >= {pct}" if continued else ""
    lines += ["", "Per seed (rays far out: the student's at the start -> end, the teacher's it has at the end):", ""]
    lines += [
        f"| scenario | seed | initial accuracy | first >= {pct} | final | best | rays | angles wrong, end "
        f"| longest plateau | change over the last 20 %, points / 1,000 it.{more} |",
        "|" + "---|" * (10 + bool(continued)),
    ]
    for r in rows:
        geometry = "rays_end" in r
        rays = f"{r['rays_start']} -> {r['rays_end']} ({r['matched_rays_end']} of {r['teacher_rays']})"
        cells = [r["scenario"], r["seed"], f"{r['accuracy_start']:.1%}" if geometry else "", r["reached_at"] or "never"]
        cells += [f"{r['final']:.2%}", f"{r['best']:.2%}", rays if geometry else ""]
        cells += [f"{r['wrong_angles_end']:.1%}" if geometry else ""]
        cells += [f"{r['plateau_checks']:,} at {r['plateau_level']:.1%}", f"{r['rise_per_1000']:+.2f}"]
        if continued:
            cells += [(r["reached_when_continued"] or "never") if "continued_to" in r else ""]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines) + "\n"


def write_heldout(out_root, rows, threshold: float, iterations: int) -> str:
    """Write heldout.md and heldout.csv (one row per run, every measure) into ``out_root``."""
    from ..io import atomic_write_text

    table = heldout_markdown(rows, threshold, iterations)
    atomic_write_text(Path(out_root) / "heldout.md", table)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(Path(out_root) / "heldout.csv", out.getvalue())
    return table
