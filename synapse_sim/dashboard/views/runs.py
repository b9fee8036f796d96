"""The runs page's data: several results folders' recorded curves overlaid, their parameters and figures.

Plain functions over the files ``synapse-sim run`` writes (``history.npz``, ``summary.json``,
``scenario.toml``), so a run that is still writing is read again as it grows.
"""

from __future__ import annotations

import csv
import html
import io
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import fmt
from .curves import bin_edges, binned, nice_ticks, running_mean

RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")
CSV_COLUMNS = ("run", "step", "evaluations", "loss", "accuracy", "reward", "decrement", "keep", "increment")


@dataclass
class RecordedRun:
    label: str
    path: Path
    history: dict[str, np.ndarray]
    summary: dict
    scenario: dict

    @property
    def per_step(self) -> bool:
        """A run of a synapse-local rule (per-step records), not the gradient baseline (per epoch)."""
        return "step" in self.history and "loss" in self.history


def find_runs(paths) -> list[Path]:
    """The results folders among ``paths``: each a folder with a ``history.npz``, or a folder of them (a
    ``compare`` or ``table1`` output, searched below it), in the order given, sorted within a folder."""
    found: list[Path] = []
    for given in paths:
        path = Path(given).expanduser().resolve()
        if (path / "history.npz").is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p.parent for p in path.rglob("history.npz")))
    return list(dict.fromkeys(found))


def labels_for(paths: list[Path]) -> list[str]:
    """Short names: each folder relative to the deepest folder the runs share (its own name if alone)."""
    if len(paths) == 1:
        return [paths[0].name]
    parts = [p.parts for p in paths]
    common = 0
    while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
        common += 1
    return ["/".join(p[common:]) for p in parts]


def read_run(path: Path, label: str) -> RecordedRun:
    """A results folder's files as they are now (a file being written is read as empty, not as an error)."""
    history: dict[str, np.ndarray] = {}
    try:
        with np.load(path / "history.npz", allow_pickle=False) as h:
            history = {k: h[k] for k in h.files}
    except (OSError, ValueError, EOFError):
        pass
    summary, scenario = {}, {}
    try:
        summary = json.loads((path / "summary.json").read_text())
    except (OSError, ValueError):
        pass
    try:
        scenario = tomllib.loads((path / "scenario.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        pass
    return RecordedRun(label, path, history, summary, scenario)


def read_runs(paths: list[Path]) -> list[RecordedRun]:
    return [read_run(p, label) for p, label in zip(paths, labels_for(paths), strict=True)]


def stamp(paths: list[Path]) -> tuple:
    """What changes when any run writes: the history files' modification times and sizes."""
    out = []
    for p in paths:
        try:
            info = (p / "history.npz").stat()
            out.append((info.st_mtime_ns, info.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = json.dumps(v, sort_keys=True)
    return out


def differing_keys(runs: list[RecordedRun]) -> list[str]:
    """The scenario keys whose values differ between the runs (the parameters worth a column)."""
    flats = [_flat(r.scenario) for r in runs]
    keys = sorted(set().union(*flats)) if flats else []
    return [k for k in keys if len({f.get(k) for f in flats}) > 1 and k != "run.name"]


def runs_table_html(runs: list[RecordedRun]) -> str:
    """One row per run: its colour and name, the parameters that differ, and its final figures."""
    keys = differing_keys(runs)
    head = ["run", *keys, "status", "steps", "loss evaluations", "final loss", "final accuracy", "held-out", "wall s"]
    rows = []
    for k, r in enumerate(runs):
        flat, s = _flat(r.scenario), r.summary
        swatch = f'<span class="synsim-swatch" style="background:{RUN_COLOURS[k % len(RUN_COLOURS)]}"></span>'
        cells = [f"{swatch}{html.escape(r.label)}", *(html.escape(str(flat.get(key, "-"))) for key in keys)]
        cells += [
            html.escape(str(s.get("status", "running" if r.history else "no history yet"))),
            str(s.get("steps", s.get("epochs", "-"))),
            str(s.get("evaluations", "-")),
            fmt(s.get("final_loss", s.get("final_validation_loss"))),
            fmt(s.get("final_accuracy"), 4),
            fmt(s.get("final_validation_accuracy"), 4),
            fmt(s.get("wall_time_s"), 4),
        ]
        rows.append(f'<tr data-run="{html.escape(r.label)}">' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<table class="synsim-runs-table"><tr>{header}</tr>{"".join(rows)}</table>'


def run_series(run: RecordedRun, smoothing: int = 1) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per panel (x, y) of one run: held-out accuracy and loss against loss evaluations, the reward's
    and keep's running means against steps. The gradient baseline (per epoch) has none."""
    h = run.history
    if not run.per_step or h["step"].size == 0:
        return {}
    evaluations = h.get("evaluations", h["step"]).astype(np.float64)
    out = {"loss": (evaluations, running_mean(h["loss"].astype(np.float64), max(smoothing, 1)))}
    if h.get("validation_step", np.zeros(0)).size:
        at = np.searchsorted(h["step"], h["validation_step"])
        at = np.clip(at, 0, h["step"].size - 1)
        out["held-out accuracy"] = (evaluations[at], h["validation_accuracy"].astype(np.float64))
    else:
        out["held-out accuracy"] = (evaluations, running_mean(h["accuracy"].astype(np.float64), max(smoothing, 1)))
    steps = h["step"].astype(np.float64)
    out["reward"] = (steps, running_mean(h["reward"].astype(np.float64), max(smoothing, 25)))
    if "keep" in h:
        out["keep"] = (steps, running_mean(h["keep"].astype(np.float64), max(smoothing, 1)))
    return out


PANELS = (
    ("held-out accuracy", "loss evaluations", (0.0, 1.0)),
    ("loss", "loss evaluations", None),
    ("reward", "step", None),
    ("keep", "step", (0.0, 1.0)),
)


def overlay_svg(runs: list[RecordedRun], smoothing: int = 1, max_points: int = 400, width: int = 760) -> str:
    """The runs' curves overlaid in four panels, a colour and a labelled legend entry per run."""
    series = [run_series(r, smoothing) for r in runs]
    pw, ph, left, gap, top = (width - 2 * 60) / 2, 150, 55, 60, 24
    parts = []
    for index, (name, xlabel, ylim) in enumerate(PANELS):
        x0, y0 = left + (index % 2) * (pw + gap), top + (index // 2) * (ph + 52)
        lines = [(s[name], RUN_COLOURS[k % len(RUN_COLOURS)], runs[k].label) for k, s in enumerate(series) if name in s]
        parts.append(_overlay_panel(x0, y0, pw, ph, name, xlabel, lines, ylim, max_points))
    legend_y = top + 2 * (ph + 52) - 18
    for k, run in enumerate(runs):
        colour = RUN_COLOURS[k % len(RUN_COLOURS)]
        y = legend_y + 14 * k
        parts.append(
            f'<g class="synsim-run-label" data-run="{html.escape(run.label)}"><line x1="{left}" y1="{y - 4}" '
            f'x2="{left + 18}" y2="{y - 4}" stroke="{colour}" stroke-width="2.5"/><text x="{left + 24}" y="{y}" '
            f'font-size="10" fill="#222">{html.escape(run.label)}'
            f"{'' if series[k] else ' (per epoch: table only)'}</text></g>"
        )
    height = legend_y + 14 * len(runs) + 6
    return (
        f'<svg class="synsim-overlay" viewBox="0 0 {width} {height}" width="100%" data-runs="{len(runs)}" '
        f'data-smoothing="{smoothing}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">'
        + "".join(parts)
        + "</svg>"
    )


def _overlay_panel(x0, y0, w, h, title, xlabel, lines, ylim, max_points) -> str:
    out = [f'<g class="synsim-panel" data-title="{html.escape(title)}">']
    out.append(f'<text x="{x0}" y="{y0 - 6}" font-size="11" fill="#222">{html.escape(title)}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>')
    xs = [x[np.isfinite(x)] for (x, _), _, _ in lines]
    ys = [y[np.isfinite(y)] for (_, y), _, _ in lines]
    xall, yall = np.concatenate(xs) if xs else np.zeros(0), np.concatenate(ys) if ys else np.zeros(0)
    x_lo, x_hi = (float(xall.min()), float(xall.max())) if xall.size else (0.0, 1.0)
    y_lo, y_hi = ylim if ylim else ((float(yall.min()), float(yall.max())) if yall.size else (0.0, 1.0))
    x_hi, y_hi = max(x_hi, x_lo + 1e-9), max(y_hi, y_lo + 1e-9)

    def px(v):
        return x0 + (v - x_lo) / (x_hi - x_lo) * w

    def py(v):
        return y0 + h - (np.clip(v, y_lo, y_hi) - y_lo) / (y_hi - y_lo) * h

    for tick in nice_ticks(y_lo, y_hi):
        out.append(
            f'<text class="synsim-ytick" x="{x0 - 4}" y="{py(tick) + 3:.1f}" font-size="8" fill="#666" '
            f'text-anchor="end">{fmt(tick, 3)}</text>'
        )
    for tick in nice_ticks(x_lo, x_hi):
        out.append(
            f'<text class="synsim-xtick" x="{px(tick):.1f}" y="{y0 + h + 10}" font-size="8" fill="#666" '
            f'text-anchor="middle">{f"{tick:,.0f}" if float(tick).is_integer() else fmt(tick, 3)}</text>'
        )
    out.append(
        f'<text x="{x0 + w}" y="{y0 + h + 21}" font-size="9" fill="#444" text-anchor="end">{html.escape(xlabel)}</text>'
    )
    for (x, y), colour, label in lines:
        edges = bin_edges(x.size, max_points)
        bx, by = binned(x, edges), binned(y, edges)
        points = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in zip(bx, by, strict=True) if np.isfinite(a + b))
        out.append(
            f'<polyline class="synsim-run-curve" data-run="{html.escape(label)}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="1.4"/>'
        )
    out.append("</g>")
    return "".join(out)


def runs_csv(runs: list[RecordedRun]) -> str:
    """Every run's recorded values per step (the gradient baseline: per epoch, its own columns)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([*CSV_COLUMNS, "validation_accuracy"])
    for run in runs:
        h = run.history
        if not run.per_step:
            continue
        validation = dict(zip(h.get("validation_step", []), h.get("validation_accuracy", []), strict=False))
        for i, step in enumerate(h["step"]):
            row = [run.label, int(step)] + [repr(float(h[c][i])) if c in h else "" for c in CSV_COLUMNS[2:]]
            row.append(repr(float(validation[step])) if step in validation else "")
            writer.writerow(row)
    return buffer.getvalue()


def overlay_png(runs: list[RecordedRun], smoothing: int = 1) -> bytes:
    """The overlay as a PNG (matplotlib, a figure of its own: no global state touched)."""
    from matplotlib.figure import Figure

    from ...plots import png_bytes

    fig = Figure(figsize=(11, 6.5))
    axes = fig.subplots(2, 2).ravel()
    for ax, (name, xlabel, ylim) in zip(axes, PANELS, strict=True):
        for k, run in enumerate(runs):
            s = run_series(run, smoothing)
            if name in s:
                ax.plot(*s[name], color=RUN_COLOURS[k % len(RUN_COLOURS)], lw=1.2, label=run.label)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return png_bytes(fig)
