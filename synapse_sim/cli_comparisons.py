"""The commands that compare rules side by side: ``compare``, ``qagrel-table`` and ``control`` (see
:mod:`synapse_sim.cli`)."""

from __future__ import annotations

import argparse
import os
import sys

from .runner import RunError
from .scenario import ScenarioError


def _compare(args) -> int:
    from .studies.compare import run_compare, write_compare

    seeds = args.seed_list or list(range(args.seeds))
    try:
        jobs, summaries = run_compare(
            args.scenarios,
            seeds,
            args.out,
            args.evaluations,
            check_every=args.check_every,
            data=args.data,
            sets=args.set or [],
            processes=args.processes,
        )
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table, _ = write_compare(args.out, jobs, summaries, tuple(args.thresholds))
    print(table)
    print(f"results: {args.out}/compare.md, {args.out}/compare.csv, {args.out}/compare.png")
    return 0


def _learn_rule(args) -> int:
    from pathlib import Path

    from .rules.synaptic_rl.state_space import parse_features
    from .studies.learn_rule import Study, learn_rule

    try:
        study = Study(
            args.family,
            args.budget,
            args.generations,
            args.population,
            args.lifetimes,
            args.seed,
            size=args.tasks,
            features=parse_features(args.features) if args.features else None,
        )
        best = learn_rule(study, Path(args.out), processes=args.processes)
    except (RunError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"best fitness {best['fitness']:.4f} (generation {best['generation'] + 1}); rule file: {args.out}/rule.toml")
    if args.install:
        from .io import atomic_write_text
        from .locations import user_rule_folder

        target = user_rule_folder() / f"{args.install}.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, (Path(args.out) / "rule.toml").read_text())
        print(f'installed as {target}: a scenario loads it with rule = "user:{args.install}"')
    return 0


def rule_name(value: str) -> str:
    """A name for an installed rule file: letters, digits, '_' and '-'."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9_-]+", value):
        raise argparse.ArgumentTypeError(f"{value!r}: a rule name holds only letters, digits, '_' and '-'")
    return value


def add_processes(parser) -> None:
    """--processes and --scheduler: where a study's runs go (Dask; :mod:`synapse_sim.studies.cluster`)."""
    parser.add_argument(
        "--processes", type=int, help="parallel runs: worker processes of a local Dask cluster (default: one per core)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on the Dask cluster of this scheduler instead (default: $SYNAPSE_SIM_SCHEDULER, else a local one)",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer (1 runs one run at a time)")
    return value


def hidden_units(text: str) -> tuple[int, ...]:
    """``300-100`` -> (300, 100)."""
    try:
        units = tuple(int(u) for u in text.split("-"))
    except ValueError:
        units = ()
    if not units or min(units) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not hidden units like 300 or 300-100 (positive integers)")
    return units


def _qagrel_table(args) -> int:
    from .studies.qagrel_table import qagrel_table

    if args.task == "notmnist" and not args.data and not os.environ.get("SYNAPSE_SIM_NOTMNIST"):
        raise ScenarioError(
            "qagrel-table on notMNIST needs --data PATH (or $SYNAPSE_SIM_NOTMNIST); --task digits needs none"
        )
    seeds = list(range(args.seeds))
    text, _ = qagrel_table(
        args.task, args.data, seeds, args.out, args.processes, args.max_epochs, args.networks, args.tune, args.grid
    )
    print(text)
    print(f"results: {args.out}/qagrel_table.md, .csv, .json, qagrel_rewards.png, qagrel_classes.png")
    return 0


def _control(args) -> int:
    from .studies.control import control_study

    seeds = list(range(args.seeds))
    text, _ = control_study(
        args.env,
        args.rules,
        seeds,
        args.out,
        args.episodes,
        args.networks,
        args.set or [],
        args.processes,
        args.threshold,
        args.lockstep,
    )
    print(text)
    print(f"results: {args.out}/control.md, .csv, .json, .png")
    return 0


def add_networks(parser, default, example: str) -> None:
    """``--networks UNITS ...``: the hidden layers of each network, e.g. ``300 300-100``."""
    parser.add_argument(
        "--networks",
        nargs="+",
        type=hidden_units,
        default=default,
        metavar="UNITS",
        help=f"hidden layers of each network, e.g. {example}",
    )


def add_comparison_commands(add) -> None:
    """Register the commands on the main parser (``add(name, **kwargs)`` makes a subparser)."""
    c = add("compare", help="rules side by side on the same seeds, counted in loss evaluations (and GD in epochs)")
    c.add_argument(
        "scenarios",
        nargs="+",
        help="scenario files, one per rule (a *_gd.toml adds gradient descent); PATH@key=value@... sets keys of one",
    )
    c.add_argument("--data", help="notMNIST data (task.data) for every scenario")
    c.add_argument("--seeds", type=int, default=3, help="runs per scenario: seeds 0..N-1 (default 3)")
    c.add_argument("--seed-list", type=int, nargs="+", help="these seeds instead of 0..N-1 (e.g. a tuning split)")
    c.add_argument("--evaluations", type=int, default=10000, help="loss evaluations per run (default 10,000)")
    c.add_argument("--check-every", type=int, default=1000, help="loss evaluations between held-out checks")
    c.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.80, 0.85, 0.88],
        help="accuracies whose first crossing the table reports (default 0.80 0.85 0.88)",
    )
    c.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key in every scenario")
    add_processes(c)
    c.add_argument("--out", default="runs/compare")
    c.set_defaults(func=_compare)

    from .studies.learn_rule import FAMILIES

    r = add(
        "learn-rule",
        help="meta-learn a rule family's parameters for learning speed (CMA-ES) on tasks that exclude notMNIST",
    )
    r.add_argument("family", choices=sorted(FAMILIES), help="the rule family whose parameters are learned")
    r.add_argument("--budget", type=positive_int, default=2000, help="loss evaluations per lifetime (default 2,000)")
    r.add_argument("--generations", type=positive_int, default=20, help="CMA-ES generations (default 20)")
    r.add_argument("--population", type=positive_int, default=8, help="candidates per generation (default 8)")
    r.add_argument("--lifetimes", type=positive_int, default=1, help="seeds per task and candidate (default 1)")
    r.add_argument("--seed", type=int, default=0, help="the study's seed (CMA-ES samples, lifetime seeds)")
    r.add_argument("--tasks", choices=("full", "tiny"), default="full", help="the meta-training task set")
    r.add_argument(
        "--features",
        help="the tabular family's state features, e.g. 'last_actions:2, last_rewards:2' (default: last_actions:1, "
        "last_rewards:1)",
    )
    r.add_argument(
        "--install",
        metavar="NAME",
        type=rule_name,
        help="copy the learned rule file to the user rule folder as NAME (then rule = 'user:NAME' in a scenario)",
    )
    add_processes(r)
    r.add_argument("--out", default="runs/learn_rule")
    r.set_defaults(func=_learn_rule)

    q = add(
        "qagrel-table", help="the Q-AGREL paper's Table 1: three feedback variants and error-backprop, 300 and 300-100"
    )
    q.add_argument(
        "--task", choices=("notmnist", "digits"), default="notmnist", help="data (digits: scikit-learn's 8x8)"
    )
    q.add_argument("--data", help="notMNIST or MNIST data (idx files, PNG folder, .tar.gz or .npz)")
    q.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    q.add_argument("--max-epochs", type=int, default=1000, help="epochs at most; the rate is cut tenfold at half")
    q.add_argument(
        "--tune",
        action="store_true",
        help="first give every method the same rate grid (paper rate x 1/3, 1, 3) on a tuning seed, and use its best",
    )
    q.add_argument(
        "--grid",
        choices=("coarse", "fine"),
        default="coarse",
        help="the --tune grid: coarse (x 1/3, 1, 3) or fine (adds x 1/sqrt 3 and sqrt 3; reuses coarse runs)",
    )
    add_networks(q, [(300,), (300, 100)], "300 300-100 (the default, the paper's)")
    add_processes(q)
    q.add_argument("--out", default="runs/qagrel_table")
    q.set_defaults(func=_qagrel_table)

    k = add("control", help="control rules side by side on a Gymnasium environment: return vs. episodes and steps")
    k.add_argument("--env", default="CartPole-v1", help="Gymnasium environment id with discrete actions")
    k.add_argument(
        "--rules",
        nargs="+",
        default=["reinforce", "nrl", "rmhl"],
        help="rules (run.method), default reinforce nrl rmhl",
    )
    k.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    k.add_argument("--episodes", type=int, default=2000, help="episodes per run (default 2,000)")
    add_networks(k, [(64,)], "64 64-64 (default 64)")
    k.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a scenario key for every rule (nrl.eta=...: NRL only)"
    )
    k.add_argument(
        "--threshold",
        type=float,
        help="the return the table counts as solved (default: the environment's reward threshold, where runs stop)",
    )
    add_processes(k)
    k.add_argument(
        "--lockstep",
        type=positive_int,
        help="seeds of one rule stepped together by one process, their episodes batched; the same results "
        "(default: the seeds shared out over the processes; 1: one run at a time)",
    )
    k.add_argument("--out", default="runs/control")
    k.set_defaults(func=_control)
