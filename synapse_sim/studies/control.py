"""Rules side by side on a control task: ``synapse-sim control``.

Every rule runs the same environment, network, initial weights and episode seeds (the run's
seed fixes them) with the same budget of episodes, counted in episodes and in environment
steps. A run ends when it is solved (the mean return of 100 consecutive episodes reaches
the environment's reward threshold, Gymnasium's definition; CartPole-v1: 475) or at the
budget. Per rule and network the table gives the mean return over the last 100 episodes
run, how many seeds solved the task and after how many episodes and environment steps.
Results folders are resumable (:mod:`.jobs`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..scenario import Scenario, ScenarioError, parse_sets
from ..tasks.control import SOLVED_WINDOW as WINDOW  # episodes in the running mean that decides "solved"
from .jobs import Job, failed, run_jobs, run_or_report, stats, write_rows


def base_scenario(env_id: str, sets=()) -> Scenario:
    """The control defaults for ``env_id``: leaky-ReLU hidden layers, float64, uniform +-0.2 initial weights,
    a run ends once solved (``--set control.stop_when_solved=false`` runs every episode of the budget)."""
    return (
        Scenario()
        .with_overrides(
            {
                "task.name": "control",
                "control.env": env_id,
                "network.hidden_activation": "leaky_relu",
                "network.init_range": 0.2,
                "network.dtype": "float64",
                "run.method": "reinforce",
                "run.validate_every": 0,
                "control.stop_when_solved": True,
            }
        )
        .with_sets(list(sets))
    )


def env_shape(env_id: str, encoding: str = "raw", bins: int = 10) -> tuple[int, int, float | None]:
    """(network inputs, number of actions, reward threshold) of ``env_id`` (observations encoded by ``encoding``)."""
    from ..tasks.control import make_env
    from ..tasks.observations import ObservationCode

    env = make_env(env_id)
    inputs = ObservationCode(env.observation_space, encoding, bins).size
    return inputs, int(env.action_space.n), env.spec.reward_threshold


# what a rule needs on a control task beyond its defaults: synaptic RL's reward is the sign of
# "this episode's return beat the running average" (the paper's rule with an environment); the
# spiking agents vote in K = 10 populations (the spec's CartPole and gridworld)
CONTROL_DEFAULTS = {
    "synaptic_rl": {"synapse.reward_baseline": "running_average"},
    "spiking": {"control.actors": 10},
}


def split_sets(sets, rules) -> tuple[list[str], dict[str, list[str]]]:
    """``KEY=VALUE`` settings for every rule, and those of a section a rule owns (``nrl.eta=0.1``,
    ``synapse.alpha_s=0.01``): they go to that rule only; a setting of a rule the study does not run is an error."""
    from ..scenario import SECTION_OWNER

    common, own = [], {rule: [] for rule in rules}
    for item in sets:
        section = item.split("=", 1)[0].split(".", 1)[0].strip()
        owner = SECTION_OWNER.get(section)
        if owner is None:
            common.append(item)
        elif owner in own:
            own[owner].append(item)
        else:
            raise ScenarioError(
                f"--set {item}: [{section}] belongs to rule {owner!r}, which this study does not run "
                f"(rules: {', '.join(rules)})"
            )
    return common, own


def control_jobs(env_id, rules, seeds, out_root, episodes: int, networks=((64,),), sets=()) -> list[Job]:
    """One job per network x rule x seed: ``episodes`` episodes each (``run.iterations``); a setting
    of a rule's own section (``nrl.eta=0.1``) goes to that rule only."""
    common, own = split_sets(sets, rules)
    user_keys = set(parse_sets(common))  # a rule's control defaults give way to the user's settings
    base = base_scenario(env_id)
    jobs = []
    for hidden in networks:
        net = "-".join(map(str, hidden))
        for rule in rules:
            scenario = base.with_overrides(
                {
                    "run.method": rule,
                    "run.iterations": episodes,
                    "run.checkpoint_every": max(1, episodes // 20),
                    **{k: v for k, v in CONTROL_DEFAULTS.get(rule, {}).items() if k not in user_keys},
                    **parse_sets(common),
                    **parse_sets(own[rule]),
                }
            )
            control = scenario["control"]
            n_inputs, n_actions, _ = env_shape(env_id, control["encoding"], control["bins"])
            scenario = scenario.with_overrides({"network.layers": [n_inputs, *hidden, control["actors"] * n_actions]})
            for seed in seeds:
                folder = Path(out_root) / net / rule / f"seed{seed}"
                jobs.append(Job(scenario.with_overrides({"run.seed": seed}), folder, f"{rule}|{net}"))
    return jobs


def returns_of(folder) -> tuple[np.ndarray, np.ndarray]:
    """(each episode's return, its length) from a run's history."""
    with np.load(Path(folder) / "history.npz") as history:
        return history["return"].astype(np.float64), history["episode_length"].astype(np.float64)


def running_mean(values: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Mean of the last ``window`` values at each episode (fewer at the start)."""
    sums = np.cumsum(values)
    counts = np.minimum(np.arange(1, values.size + 1), window)
    shifted = np.concatenate([np.zeros(window), sums])[: values.size]
    return (sums - shifted) / counts


def solved_at(returns: np.ndarray, threshold: float | None) -> int | None:
    """The first episode that completes 100 consecutive episodes whose mean return reaches ``threshold``."""
    if threshold is None or returns.size < WINDOW:
        return None
    hits = np.flatnonzero(running_mean(returns)[WINDOW - 1 :] >= threshold)
    return int(hits[0]) + WINDOW if hits.size else None


def control_rows(jobs, summaries, threshold) -> list[dict]:
    groups: dict[str, list] = {}
    for job, summary in zip(jobs, summaries, strict=True):
        groups.setdefault(job.label, []).append((job, summary))
    rows = []
    for label, members in groups.items():
        rule, net = label.split("|")
        ran = [(j, s) for j, s in members if not failed(s)]
        finals, final_lengths, last_ten, reached, solved, steps_to, wall = [], [], [], [], [], [], []
        for job, summary in ran:
            returns, lengths = returns_of(job.out_dir)
            finals.append(float(np.mean(returns[-WINDOW:])))
            final_lengths.append(float(np.mean(lengths[-WINDOW:])))
            last_ten.append(float(np.mean(lengths[-10:])))
            if threshold is not None:
                reached.append(float(np.mean(returns[-WINDOW:] >= threshold)))
            at = solved_at(returns, threshold)
            if at is not None:
                solved.append(at)
                steps_to.append(float(np.sum(lengths[:at])))
            wall.append(summary["wall_time_s"])
        final = stats(finals) if finals else {"mean": float("nan"), "stdev": float("nan")}
        rows.append(
            {
                "rule": rule,
                "hidden units": net.replace("-", ","),
                "episodes": int(members[0][0].scenario["run"]["iterations"]),
                "episodes_run": float(np.mean([s["steps"] for _, s in ran])) if ran else None,
                "final_return_mean": final["mean"],
                "final_return_sd": final["stdev"],
                "last_at_threshold": float(np.mean(reached)) if reached else None,
                "final_length_mean": float(np.mean(final_lengths)) if final_lengths else float("nan"),
                "last_10_length_mean": float(np.mean(last_ten)) if last_ten else float("nan"),
                "solved": f"{len(solved)}/{len(members)}",
                "episodes_to_solve": float(np.mean(solved)) if solved else None,
                "steps_to_solve": float(np.mean(steps_to)) if steps_to else None,
                "wall_time_s": float(np.mean(wall)) if wall else None,
                "diverged": " ".join(str(j.scenario["run"]["seed"]) for j, s in members if failed(s)),
                "seeds": " ".join(str(j.scenario["run"]["seed"]) for j, _ in members),
            }
        )
    return rows


def markdown(rows: list[dict], env_id: str, threshold, stops_at=None) -> str:
    stops_at = threshold if stops_at is None else stops_at
    stop = "the run then stops" if stops_at == threshold else f"runs stop at the environment's {stops_at}"
    lines = [
        f"{env_id}: mean return over the last {WINDOW} episodes run, mean (sd) over the seeds, the share of "
        f"those episodes whose return reached {threshold} and their mean length; solved: the mean "
        f"over {WINDOW} consecutive episodes reached {threshold} ({stop}; episodes and environment steps "
        "to that, mean over the seeds that got there).",
        "",
        "| rule | hidden units | budget (episodes) | final return | last 100 at the threshold | their length "
        "(steps) | last 10's length | solved | episodes to solve | env steps to solve | wall time per run | "
        "diverged (seeds) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        to_solve = f"{r['episodes_to_solve']:,.0f}" if r["episodes_to_solve"] is not None else "-"
        steps = f"{r['steps_to_solve']:,.0f}" if r["steps_to_solve"] is not None else "-"
        wall = f"{r['wall_time_s']:.0f} s" if r["wall_time_s"] is not None else "-"
        share = f"{100 * r['last_at_threshold']:.0f} %" if r["last_at_threshold"] is not None else "-"
        lines.append(
            f"| {r['rule']} | {r['hidden units']} | {r['episodes']:,} | {r['final_return_mean']:.1f} "
            f"({r['final_return_sd']:.1f}) | {share} | {r['final_length_mean']:.1f} | {r['last_10_length_mean']:.1f} | "
            f"{r['solved']} | {to_solve} | "
            f"{steps} | {wall} | {r['diverged'] or '-'} |"
        )
    return "\n".join(lines) + "\n"


def held(values: np.ndarray, n: int) -> np.ndarray:
    """``values`` extended to ``n`` entries with its last one (a run that stopped, solved)."""
    return np.concatenate([values, np.full(n - values.size, values[-1])]) if values.size < n else values


def control_figure(jobs, summaries, env_id: str, threshold):
    """Running mean return vs. episodes and vs. environment steps: mean over seeds, min-max band (a run that
    stopped solved holds its last running mean)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4))
    by_episode, by_steps = fig.subplots(1, 2, sharey=True)
    labels = list(dict.fromkeys(job.label for job in jobs))
    for label in labels:
        members = [j for j, s in zip(jobs, summaries, strict=True) if j.label == label and not failed(s)]
        if not members:
            continue
        curves = [returns_of(j.out_dir) for j in members]
        n = max(r.size for r, _ in curves)
        means = np.array([held(running_mean(r), n) for r, _ in curves])
        episodes = np.arange(1, n + 1)
        line = by_episode.plot(episodes, means.mean(axis=0), lw=1.2, label=label.replace("|", ", hidden "))[0]
        by_episode.fill_between(episodes, means.min(axis=0), means.max(axis=0), color=line.get_color(), alpha=0.15)
        steps = [np.cumsum(length) for _, length in curves]
        grid = np.linspace(0, max(s[-1] for s in steps), 400)
        on_grid = np.array([np.interp(grid, s, running_mean(r)) for s, (r, _) in zip(steps, curves, strict=True)])
        by_steps.plot(grid, on_grid.mean(axis=0), lw=1.2, color=line.get_color())
        by_steps.fill_between(grid, on_grid.min(axis=0), on_grid.max(axis=0), color=line.get_color(), alpha=0.15)
    for ax, xlabel in ((by_episode, "episode"), (by_steps, "environment steps")):
        if threshold is not None:
            ax.axhline(threshold, color="0.4", ls=":", lw=1)
        ax.set(xlabel=xlabel)
        ax.grid(alpha=0.3)
    by_episode.set(
        ylabel=f"return, mean of the last {WINDOW} episodes",
        title=f"{env_id} (band: min-max over seeds; a solved run holds its last value)",
    )
    by_episode.legend(fontsize=8)
    fig.tight_layout()
    return fig


def write_control(out_root, jobs, summaries, env_id: str, threshold=None) -> tuple[str, list[dict]]:
    """The table and figure; ``threshold`` replaces the environment's reward threshold in them (the runs
    themselves stop at the environment's, with ``control.stop_when_solved``)."""
    out_root = Path(out_root)
    stops_at = env_shape(env_id)[2]
    threshold = stops_at if threshold is None else threshold
    rows = control_rows(jobs, summaries, threshold)
    text = markdown(rows, env_id, threshold, stops_at)
    write_rows(out_root, "control", rows, text)
    control_figure(jobs, summaries, env_id, threshold).savefig(out_root / "control.png", dpi=110)
    return text, rows


def control_study(
    env_id,
    rules,
    seeds,
    out_root,
    episodes,
    networks=((64,),),
    sets=(),
    processes=None,
    threshold=None,
    lockstep: int | None = None,
):
    """Run (or resume) every job and write ``control.md`` / ``.csv`` / ``.json`` / ``.png``.

    ``lockstep``: seeds of one rule and network stepped together by one worker (their episodes
    batched: :func:`synapse_sim.tasks.episodes.run_episodes`); default: the seeds shared out over
    the processes. The results are the same for every ``lockstep``, bit for bit."""
    from .jobs import default_processes

    jobs = control_jobs(env_id, rules, seeds, out_root, episodes, networks, sets)
    if lockstep is None:
        lockstep = -(-len(seeds) // min(processes or default_processes(), len(seeds) or 1))
    summaries = run_jobs(jobs, processes, run_or_report, lockstep, group_by=lambda job: job.out_dir.parent)
    return write_control(out_root, jobs, summaries, env_id, threshold)
