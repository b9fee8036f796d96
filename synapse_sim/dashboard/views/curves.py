"""3. The curves: loss, accuracy, the broadcast's running mean and the action mix per step.

On a control task (one episode per step) the loss is minus the episode's return, so its panel shows
the return itself instead: each episode's and their running mean (the step record ``return``)."""

from __future__ import annotations

import html

import numpy as np

from ...rules.synaptic_rl.features import ACTION_NAMES
from .. import recorded, rule_views
from .common import ACTION_HEX, REWARD_HEX, fmt

CURVES = ("loss", "accuracy", "reward", "decrement", "keep", "increment")
SOURCE_NAMES = recorded.SOURCES
BAND_HEX = {recorded.RUN: "#fdf0c2", recorded.FAST_FORWARD: "#d6e6f7"}  # behind steps the agents did not take


def curves_data(model, reward_window: int = 25) -> dict[str, np.ndarray]:
    """The series per step and the reward's running mean: the model's ``recorded`` steps (a run folder's
    history, fast-forwards; a :class:`~..model.DashboardModel` only), then the DataCollector's (step 0
    is the initial network). ``source`` says where each step comes from (:data:`SOURCE_NAMES`);
    ``validation_step`` / ``validation_accuracy`` are the held-out evaluations recorded with them."""
    series = model.datacollector.model_vars
    collected = len(series["loss"])
    n = min(len(series[name]) for name in CURVES)  # equal, unless a step is being collected right now
    data = {name: np.asarray(series[name][:n], dtype=np.float64) for name in CURVES}
    returns = series.get("return")  # a DashboardModel collects it; a plain model does not
    data["return"] = np.asarray(returns[:n], dtype=np.float64) if returns is not None else np.full(n, np.nan)
    data["step"] = np.arange(n) + (model.steps - collected + 1)
    data["source"] = np.full(n, recorded.AGENTS, dtype=np.int8)
    validation = {"step": [], "accuracy": []}
    earlier = getattr(model, "recorded", None)
    if earlier is not None and len(earlier):
        before = earlier.arrays()
        data = {k: np.concatenate([before[k], v]) for k, v in data.items()}
        validation = earlier.validation
    n = data["step"].size
    rewards = data["reward"]
    cumulative = np.concatenate([[0.0], np.cumsum(rewards)])
    window = np.minimum(np.arange(1, n + 1), reward_window)
    data["reward_mean"] = (cumulative[1:] - cumulative[np.arange(1, n + 1) - window]) / window
    data["return_mean"] = running_mean(data["return"], reward_window)
    data["validation_step"] = np.asarray(validation["step"], dtype=np.int64)
    data["validation_accuracy"] = np.asarray(validation["accuracy"], dtype=np.float64)
    return data


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """The mean of each value and the ``window - 1`` before it, NaNs (steps without the value) left out."""
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(finite)])
    ends = np.arange(1, values.size + 1)
    starts = np.maximum(ends - window, 0)
    n = counts[ends] - counts[starts]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[ends] - sums[starts]) / np.maximum(n, 1), np.nan)


def sources_text(data: dict[str, np.ndarray]) -> str:
    """Where the curves' steps come from, in words (HTML), with the step counts per source as data attributes."""
    steps, sources = data["step"], data.get("source", np.zeros(data["step"].size, dtype=np.int8))
    counts = np.bincount(sources.astype(np.int64), minlength=len(SOURCE_NAMES))
    runs = recorded.segments(steps, sources)
    words = "; ".join(f"{a}-{b}: {SOURCE_NAMES[s]}" if a != b else f"{a}: {SOURCE_NAMES[s]}" for a, b, s in runs[-6:])
    if len(runs) > 6:
        words = f"... ({len(runs) - 6} earlier parts); {words}"
    first, last = (int(steps[0]), int(steps[-1])) if steps.size else (0, 0)
    legend = ""
    if counts[recorded.RUN] or counts[recorded.FAST_FORWARD]:
        run, forward = (f'<span class="synsim-swatch" style="background:{BAND_HEX[s]}"></span>' for s in BAND_HEX)
        legend = f" ({run}run, {forward}fast-forward)"
    if data.get("validation_step", np.zeros(0)).size:
        legend += " &middot; dots: held-out accuracy"
    return (
        f'<div class="synsim-curves-source synsim-note" data-first-step="{first}" data-last-step="{last}" '
        f'data-agent-steps="{int(counts[recorded.AGENTS])}" data-run-steps="{int(counts[recorded.RUN])}" '
        f'data-fast-forward-steps="{int(counts[recorded.FAST_FORWARD])}">'
        f"steps {html.escape(words or 'none yet')}{legend}</div>"
    )


def bin_edges(n: int, max_points: int) -> np.ndarray:
    """Edges of at most ``max_points`` bins of consecutive points covering all ``n`` (one point a bin when
    they fit)."""
    return np.unique(np.linspace(0, n, min(n, max_points) + 1).round().astype(np.int64))


def binned(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The mean of each bin's finite values (NaN where it has none): a long curve thinned by
    averaging, so that no step is dropped."""
    finite = np.isfinite(values)
    sums = np.add.reduceat(np.where(finite, values, 0.0), edges[:-1]) if values.size else np.zeros(0)
    counts = np.add.reduceat(finite.astype(np.int64), edges[:-1]) if values.size else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def nice_ticks(lo: float, hi: float, count: int = 4) -> np.ndarray:
    """About ``count`` round values within [lo, hi], 1, 2 or 5 times a power of ten apart (the one
    nearest to an even split)."""
    span = hi - lo
    if not np.isfinite(span) or span <= 0:
        return np.array([lo])
    raw = span / count
    power = 10 ** np.floor(np.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda c: abs(np.log(c / raw)))
    first = np.ceil(lo / step) * step
    return np.arange(first, hi + step * 1e-9, step)


def _panel(x0, y0, w, h, title, steps, lines, ylim=None, bands=(), dots=None, ylabel="") -> str:
    """One chart: frame, ticks on both axes, axis titles, one polyline per (values, colour);
    ``bands``: (first step, last step, colour) shaded behind; ``dots``: (steps, values, colour) as circles."""
    out = [f'<g class="synsim-panel" data-title="{html.escape(title)}">']
    out.append(f'<text x="{x0}" y="{y0 - 4}" font-size="11" fill="#222">{html.escape(title)}</text>')
    out.append(f'<rect x="{x0}" y="{y0}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>')
    values = np.concatenate([v for v, _, _ in lines]) if lines else np.zeros(0)
    values = values[np.isfinite(values)]
    if ylim is None:
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    else:
        lo, hi = ylim
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    for tick in nice_ticks(lo, hi):
        ty = y0 + h - (tick - lo) / (hi - lo) * h
        out.append(f'<line class="synsim-tick" x1="{x0 - 3}" y1="{ty:.1f}" x2="{x0 + w}" y2="{ty:.1f}" stroke="#eee"/>')
        out.append(
            f'<text class="synsim-ytick" x="{x0 - 4}" y="{ty + 3:.1f}" font-size="8" fill="#666" '
            f'text-anchor="end">{fmt(tick, 3)}</text>'
        )
    if ylabel:
        cx, cy = x0 - 30, y0 + h / 2
        out.append(
            f'<text class="synsim-ylabel" x="{cx}" y="{cy:.1f}" font-size="9" fill="#444" text-anchor="middle" '
            f'transform="rotate(-90 {cx} {cy:.1f})">{html.escape(ylabel)}</text>'
        )
    if steps.size:
        s0, s1 = float(steps[0]), float(steps[-1])
        span = max(s1 - s0, 1.0)
        for a, b, colour in bands:
            bx, bw = x0 + (a - s0) / span * w, max((b - a) / span * w, 0.5)
            out.append(
                f'<rect class="synsim-band" x="{bx:.1f}" y="{y0}" width="{bw:.1f}" height="{h}" fill="{colour}"/>'
            )
        for v, colour, label in lines:
            xs = x0 + (steps - s0) / span * w
            ys = y0 + h - (np.clip(v, lo, hi) - lo) / (hi - lo) * h
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True) if np.isfinite(y))
            out.append(
                f'<polyline data-series="{label}" points="{points}" fill="none" stroke="{colour}" stroke-width="1.3"/>'
            )
        if dots is not None and dots[0].size:
            dx = x0 + (dots[0] - s0) / span * w
            dy = y0 + h - (np.clip(dots[1], lo, hi) - lo) / (hi - lo) * h
            out.extend(
                f'<circle class="synsim-dot" cx="{x:.1f}" cy="{y:.1f}" r="2.2" fill="none" stroke="{dots[2]}"/>'
                for x, y in zip(dx, dy, strict=True)
                if np.isfinite(y)
            )
        for tick in nice_ticks(s0, s1, 4) if s1 > s0 else [s0]:
            tx = x0 + (tick - s0) / span * w
            out.append(
                f'<text class="synsim-xtick" x="{tx:.1f}" y="{y0 + h + 10}" font-size="8" fill="#666" '
                f'text-anchor="middle">{round(float(tick))}</text>'
            )
        out.append(
            f'<text class="synsim-xlabel" x="{x0 + w}" y="{y0 + h + 19}" font-size="9" fill="#444" '
            'text-anchor="end">step</text>'
        )
    out.append("</g>")
    return "".join(out)


def curves_svg(
    data: dict[str, np.ndarray],
    max_points: int = 400,
    width: int = 600,
    height: int = 330,
    broadcast_label: str = "reward",
    discrete: bool = True,
    episodes: bool = False,
    smoothing: int = 1,
) -> str:
    """Loss, accuracy, the broadcast (running mean) and the action mix per step, as one SVG.

    ``smoothing``: each curve's running mean over this many steps (1: the steps themselves); more
    steps than ``max_points`` are drawn as the means of consecutive bins, never by dropping steps.

    For a rule without discrete actions (``discrete=False``) the mix is that of the weight
    changes' signs and the broadcast's axis follows its values. With ``episodes`` (a control task)
    the first panel is the episode return (each step's and the running mean), the second whether
    the episode reached the environment's reward threshold."""
    edges = bin_edges(data["step"].size, max_points)
    smoothed = {
        name: running_mean(data[name], smoothing) if smoothing > 1 and name not in ("reward_mean",) else data[name]
        for name in (*CURVES, "return", "return_mean", "reward_mean")
    }

    def thin(name):
        return binned(smoothed[name], edges)

    steps = binned(data["step"].astype(np.float64), edges)
    sources = data.get("source", np.zeros(data["step"].size, dtype=np.int8))
    bands = [(a, b, BAND_HEX[s]) for a, b, s in recorded.segments(data["step"], sources) if s in BAND_HEX]
    dots = None
    if data.get("validation_step", np.zeros(0)).size and steps.size:
        dots = (data["validation_step"], data["validation_accuracy"], "#6a3d9a")

    def last(name):
        return data[name][-1] if data[name].size else float("nan")

    left, between, right, top, middle, bottom = 48, 50, 6, 18, 40, 22
    pw, ph = (width - left - between - right) / 2, (height - top - middle - bottom) / 2
    xs, ys = (left, left + pw + between), (top, top + ph + middle)
    mix = [(thin(name), ACTION_HEX[a], name) for a, name in enumerate(("decrement", "keep", "increment"))]
    names = ACTION_NAMES if discrete else rule_views.SIGN_WORDS
    last_mix = ", ".join(f"{names[a]} {last(name):.2f}" for a, name in enumerate(("decrement", "keep", "increment")))
    mix_title = f"action mix: {last_mix}" if discrete else f"weight change signs: {last_mix}"
    first_panel = (
        _panel(
            xs[0],
            ys[0],
            pw,
            ph,
            f"episode return {fmt(last('return'))} (mean of last 25: {fmt(last('return_mean'), 4)})",
            steps,
            [(thin("return"), "#bbbbbb", "return"), (thin("return_mean"), "#08519c", "return_mean")],
            bands=bands,
            ylabel="return",
        )
        if episodes
        else _panel(
            xs[0],
            ys[0],
            pw,
            ph,
            f"loss {fmt(last('loss'))}",
            steps,
            [(thin("loss"), "#333", "loss")],
            bands=bands,
            ylabel="loss",
        )
    )
    accuracy_title = "solved (return reached the threshold)" if episodes else "accuracy"
    panels = [
        first_panel,
        _panel(
            xs[1],
            ys[0],
            pw,
            ph,
            f"{accuracy_title} {fmt(last('accuracy'), 3)}",
            steps,
            [(thin("accuracy"), "#6a3d9a", "accuracy")],
            ylim=(0.0, 1.0),
            bands=bands,
            dots=dots,
            ylabel="accuracy",
        ),
        _panel(
            xs[0],
            ys[1],
            pw,
            ph,
            f"{broadcast_label}: mean of last 25 steps {fmt(last('reward_mean'), 2 if discrete else 3)}",
            steps,
            [(thin("reward_mean"), REWARD_HEX[1], "reward_mean")],
            ylim=(-1.0, 1.0) if discrete else None,
            bands=bands,
            ylabel=broadcast_label if len(broadcast_label) < 14 else "broadcast",
        ),
        _panel(xs[1], ys[1], pw, ph, mix_title, steps, mix, ylim=(0.0, 1.0), bands=bands, ylabel="fraction"),
    ]
    first, final = (int(data["step"][0]), int(data["step"][-1])) if data["step"].size else (0, 0)
    classes = "synsim-curves synsim-returns" if episodes else "synsim-curves"
    return (
        f'<svg class="{classes}" viewBox="0 0 {width} {height}" width="100%" data-steps="{first}-{final}" '
        f'data-smoothing="{smoothing}" data-points="{steps.size}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif">{"".join(panels)}</svg>'
    )


CSV_SERIES = ("step", "source", *CURVES, "return", "reward_mean")


def curves_csv(data: dict[str, np.ndarray]) -> str:
    """The recorded series per step as CSV (``source``: 0 the agents, 1 the run, 2 fast-forward), then
    the held-out evaluations as rows of their own (``validation_accuracy``)."""
    lines = [",".join([*CSV_SERIES, "validation_accuracy"])]
    for i in range(data["step"].size):
        lines.append(
            ",".join(
                [
                    *(
                        repr(float(data[k][i])) if k not in ("step", "source") else str(int(data[k][i]))
                        for k in CSV_SERIES
                    ),
                    "",
                ]
            )
        )
    for step, accuracy in zip(data.get("validation_step", []), data.get("validation_accuracy", []), strict=False):
        lines.append(",".join([str(int(step)), *[""] * (len(CSV_SERIES) - 1), repr(float(accuracy))]))
    return "\n".join(lines) + "\n"


def curves_png(data: dict[str, np.ndarray], smoothing: int = 1) -> bytes:
    """The four panels as a PNG (matplotlib, a figure of its own)."""
    from matplotlib.figure import Figure

    from ...plots import png_bytes

    fig = Figure(figsize=(10, 6))
    axes = fig.subplots(2, 2).ravel()
    steps = data["step"]
    panels = (
        ("loss", [("loss", "#333")]),
        ("accuracy", [("accuracy", "#6a3d9a")]),
        ("broadcast, mean of the last 25 steps", [("reward_mean", REWARD_HEX[1])]),
        ("action mix", [(n, ACTION_HEX[a]) for a, n in enumerate(("decrement", "keep", "increment"))]),
    )
    for ax, (title, series) in zip(axes, panels, strict=True):
        for name, colour in series:
            values = data[name] if name == "reward_mean" else running_mean(data[name], max(smoothing, 1))
            ax.plot(steps, values, color=colour, lw=1.1, label=name)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[3].legend(fontsize=8)
    fig.tight_layout()
    return png_bytes(fig)
