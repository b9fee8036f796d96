"""What a learned rule does, in a picture and in words (issue 18's "show the rule").

``describe_rule(scenario)``: the rule as a few lines of closed form (a tabular rule: its policy in
words). ``figure_rule(scenario)``: response curves of a parametric rule (its step over time; how a
synapse's velocity answers the broadcast) or a tabular rule's policy and step schedule.
``figure_study(folder)``: a learn-rule study's fitness per generation. Plain functions over a
scenario (``Scenario({"rule": NAME})`` loads a learned rule file), figures built without pyplot.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..plots import ACTION_CMAP
from ..rules.synaptic_rl.state_space import StateSpace

ACTION_WORDS = {-1: "decrement", 0: "keep", 1: "increment"}
HORIZON = 100_000  # steps the step-size curves span


def step_sizes(scenario, steps) -> np.ndarray:
    """The rule's step size at each of ``steps`` (momentum_search: c_t; keep-or-revert: a; synaptic RL:
    alpha_s after its schedule)."""
    steps = np.asarray(steps, dtype=np.int64)
    method = scenario["run"]["method"]
    if method == "momentum_search":
        m = scenario["momentum_search"]
        return m["c"] / (1.0 + m["decay"] * (steps - 1))
    if method == "keep_or_revert":
        return np.full(steps.shape, scenario["keep_or_revert"]["a"])
    if method == "synaptic_rl":
        synapse = scenario["synapse"]
        out = np.full(steps.shape, synapse["alpha_s"], dtype=np.float64)
        for start, value in synapse["alpha_s_schedule"]:
            out[steps >= start] = value
        return out
    raise ValueError(f"no step-size curve for the rule {method!r}")


def policy_words(scenario) -> list[tuple[str, str]]:
    """A written-out synaptic-RL policy as (state in words, action) pairs."""
    space = StateSpace.from_spec(scenario["state"]["features"])
    return [(space.describe(s), ACTION_WORDS[a]) for s, a in enumerate(scenario["policy"]["actions"])]


def describe_rule(scenario) -> str:
    """The rule in a few lines: its update as a closed form with the learned numbers filled in."""
    method = scenario["run"]["method"]
    if method == "momentum_search":
        m = scenario["momentum_search"]
        hears = "b" if m["broadcast"] == "real" else "sign(b)"
        turn = f"{m['eta']:.3g} * b / c_t" if m["broadcast"] == "real" else f"{m['eta']:.3g} * c_t"
        return "\n".join(
            [
                f"each synapse hears {hears}, b = L(w + o) - L_ref, one evaluation per step",
                f"c_t = {m['c']:.3g} / (1 + {m['decay']:.3g} t);  propose o = c_t Delta + {m['beta']:.3g} v",
                f"kept (b < 0):  w += o;  v = {m['rho_kept']:.3g} v + o",
                f"dropped:       v = {m['rho_dropped']:.3g} v - {turn} Delta",
            ]
        )
    if method == "synaptic_rl" and scenario["policy"]["actions"]:
        lines = [f"{state:>12}  ->  {action}" for state, action in policy_words(scenario)]
        synapse = scenario["synapse"]
        lines.append(
            f"epsilon {scenario['policy']['epsilon']:.3g}; alpha_s {synapse['alpha_s']:.3g}, "
            f"{step_sizes(scenario, [10_000])[0]:.3g} at step 10,000, {step_sizes(scenario, [HORIZON])[0]:.3g} at "
            f"{HORIZON:,}"
        )
        return "\n".join(["state (last action | last reward)  ->  action", *lines])
    raise ValueError(f"no description for the rule {method!r} (momentum_search or a written-out synaptic-RL policy)")


def figure_rule(scenario, compare=(), title: str = "") -> Figure:
    """Response curves of the rule in ``scenario``, with the step sizes of the scenarios in ``compare``
    (e.g. a tuned keep-or-revert) beside its own."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    steps = np.unique(np.geomspace(1, HORIZON, 200).astype(np.int64))
    for other, label in [(scenario, "this rule"), *compare]:
        left.loglog(steps, step_sizes(other, steps), label=label)
    left.set(xlabel="step t", ylabel="step size", title="the step over a lifetime")
    left.legend(fontsize=8)
    method = scenario["run"]["method"]
    if method == "momentum_search":
        _velocity_response(right, scenario["momentum_search"])
    elif method == "synaptic_rl" and scenario["policy"]["actions"]:
        _policy_grid(right, scenario)
    fig.suptitle(title or describe_rule(scenario).splitlines()[1 if method == "momentum_search" else -1], fontsize=9)
    return fig


def _velocity_response(ax, m: dict, span: float = 0.02) -> None:
    """v' against the broadcast b (a loss change) for a synapse whose step was Delta = +1, at t = 1,
    from v = 0 and from v = c."""
    c = m["c"]
    b = np.linspace(-span, span, 401)
    turn = m["eta"] * b / c if m["broadcast"] == "real" else np.full_like(b, m["eta"] * c)
    for v in (0.0, c):
        after = np.where(b < 0, m["rho_kept"] * v + c + m["beta"] * v, m["rho_dropped"] * v - turn)
        ax.plot(b, after / c, label=f"v = {v / c:.0f} c before")
    ax.axvline(0, color="0.7", lw=0.8)
    ax.set(xlabel="broadcast b = L(w + o) - L_ref", ylabel="velocity after, in units of c")
    ax.set_title("how the velocity answers the broadcast (Delta = +1)", fontsize=9)
    ax.legend(fontsize=8)


def _policy_grid(ax, scenario) -> None:
    """The policy as coloured cells with the actions in words: last action x last reward on the default
    state space, one row per state on any other."""
    actions = np.asarray(scenario["policy"]["actions"])
    space = StateSpace.from_spec(scenario["state"]["features"])
    square = space.spec() == [{"name": "last_actions", "n": 1}, {"name": "last_rewards", "n": 1}]
    grid = actions.reshape(3, 3) if square else actions[:, None]
    ax.imshow(grid + 1, cmap=ACTION_CMAP, vmin=0, vmax=2, aspect="auto")
    for (i, j), a in np.ndenumerate(grid):
        ax.text(j, i, ACTION_WORDS[int(a)], ha="center", va="center", fontsize=9 if square else 6)
    if square:
        ax.set_xticks(range(3), ["R = -", "no R yet", "R = +"])
        ax.set_yticks(range(3), ["a = dec", "a = keep", "a = inc"])
        ax.set_title("the policy: last action x last reward -> action", fontsize=9)
    else:
        ax.set_xticks([])
        ax.set_yticks(range(space.n_states), space.labels(), fontsize=6)
        ax.set_title("the policy: state -> action", fontsize=9)


def figure_study(folder, title: str = "") -> Figure:
    """A learn-rule study's best and mean fitness per generation (``progress.json``)."""
    rows = json.loads((Path(folder) / "progress.json").read_text())["rows"]
    fig = Figure(figsize=(5, 3.2), layout="constrained")
    ax = fig.subplots()
    generations = [r["generation"] + 1 for r in rows]
    ax.plot(generations, [r["best"] for r in rows], "o-", label="best candidate")
    ax.plot(generations, [r["mean"] for r in rows], "s--", label="population mean")
    ax.set(xlabel="generation", ylabel="fitness (mean held-out accuracy)", title=title or str(folder))
    ax.legend(fontsize=8)
    return fig
