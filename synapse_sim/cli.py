"""Command line: ``synapse-sim run SCENARIO.toml [--engine ...] [--seed N] [--set k=v ...]``.

Ordinary mistakes end with ``error: ...`` and exit status 2; anything unexpected prints the
error and the path of a log holding its traceback (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import traceback
from pathlib import Path

from .cli_comparisons import add_comparison_commands, add_processes
from .locations import scenario_folder, scenario_names, scenario_summary, user_folder, user_policy_folder
from .rules.synaptic_rl.policy import PolicyFileError
from .runner import RunError
from .scenario import Scenario, ScenarioError
from .tasks.data import DataError

ADAPTIVE, STATIC = "decision_boundary_adaptive", "decision_boundary_static"


def load_scenario(name_or_path) -> Scenario:
    """``Scenario.load``, with a folder given as the scenario explained (a results folder: what to do with it)."""
    path = Path(os.path.expanduser(str(name_or_path)))
    if path.is_dir():
        if (path / "scenario.toml").is_file():
            raise ScenarioError(
                f"{path} is a results folder, not a scenario: continue its run with `synapse-sim run --resume "
                f"{path}`, open it with `synapse-sim dashboard {path}`, or start a new run from its scenario with "
                f"`synapse-sim run {path / 'scenario.toml'} --out NEW_FOLDER`"
            )
        raise ScenarioError(
            f"{path} is a directory, not a scenario: give a scenario TOML file or a shipped name "
            "(`synapse-sim scenarios` lists them)"
        )
    return Scenario.load(name_or_path)


def _run(args) -> int:
    from .runner import default_out_dir, run

    sets = list(args.set or [])
    if args.engine:
        sets.append(f"run.engine={args.engine}")
    if args.seed is not None:
        sets.append(f"run.seed={args.seed}")
    if args.iterations is not None:
        sets.append(f"run.iterations={args.iterations}")
    if args.data:
        sets.append(f"task.data={json.dumps(str(args.data))}")
    if args.resume:
        scenario = load_scenario(args.scenario) if args.scenario else None
        out_dir = Path(args.resume)
    else:
        if not args.scenario:
            raise ScenarioError(
                f"give a scenario (a TOML file or a shipped name such as {ADAPTIVE}; `synapse-sim scenarios` "
                "lists them) or --resume DIR"
            )
        scenario = load_scenario(args.scenario).with_sets(sets)
        sets = []
        out_dir = Path(args.out) if args.out else default_out_dir(scenario)
    try:
        summary = run(scenario, out_dir, resume=bool(args.resume), sets=sets, progress=not args.quiet)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    keys = (
        "status",
        "steps",
        "final_loss",
        "final_accuracy",
        "first_step_accuracy_95",
        "final_validation_accuracy",
        "wall_time_s",
    )
    print(json.dumps({k: summary[k] for k in keys if k in summary}, indent=1))
    print(f"results: {out_dir}")
    return 130 if summary["status"].startswith("interrupted") else 0


def _fig1(args) -> int:
    from .studies.experiments import decision_boundary_jobs, decision_boundary_table, run_jobs

    adaptive = load_scenario(args.adaptive).with_sets(list(args.set or []))
    static = load_scenario(args.static).with_sets(list(args.set or []))
    if args.iterations:
        adaptive = adaptive.with_overrides({"run.iterations": args.iterations})
        static = static.with_overrides({"run.iterations": args.iterations})
    jobs = decision_boundary_jobs(adaptive, static, args.seeds, args.static_seeds, args.out)
    summaries = run_jobs(jobs, args.processes)
    table = decision_boundary_table(jobs, summaries)
    from .io import atomic_write_text

    atomic_write_text(Path(args.out) / "results.md", table)
    print(table)
    print(f"results: {args.out}/results.md, figures: {args.out}/*/seed*/figure.png")
    return 0


def _table1(args) -> int:
    from .io import atomic_write_bytes, atomic_write_text
    from .plots import png_bytes
    from .studies.experiments import figure3, run_table1, table1_csv, table1_markdown, table1_rows

    out = Path(args.out)
    jobs, summaries, stopped = run_table1(
        args.scenarios,
        args.seeds,
        out,
        data=args.data,
        max_iterations=args.max_iterations,
        sets=args.set or [],
        processes=args.processes,
    )
    rows = table1_rows(jobs, summaries, stopped)
    table = table1_markdown(rows)
    atomic_write_text(out / "table1.md", table)
    atomic_write_text(out / "table1.csv", table1_csv(rows))
    first = next((j.scenario["run"]["seed"] for j in jobs if j.label == "Syn. RL 32 HU"), None)
    if first is not None:
        fig = figure3(out / "notmnist_32hu" / f"seed{first}", out / "notmnist_32hu_gd" / f"seed{first}")
        atomic_write_bytes(out / "figure3.png", png_bytes(fig))
    print(table)
    print(f"results: {out}/table1.md, {out}/table1.csv, {out}/figure3.png")
    return 0


def _learn_policy(args) -> int:
    from .io import atomic_write_bytes, atomic_write_json, atomic_write_text
    from .studies.experiments import select_policy

    if args.install_dir and not args.install:
        raise ScenarioError("--install-dir needs --install NAME (the name to install the chosen policy as)")
    if args.install and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.install):
        raise ScenarioError(f"--install {args.install!r}: a policy name is letters, digits, '_', '.', '-' only")
    if args.install:
        folder = Path(args.install_dir).expanduser() if args.install_dir else user_policy_folder()
        target = folder / args.install
        if not args.replace and any(target.with_suffix(s).exists() for s in (".npz", ".json")):
            raise ScenarioError(
                f"a policy {args.install!r} is already installed at {target}.npz / .json; choose another NAME, "
                "or pass --replace to write over it"
            )
    adaptive = load_scenario(args.adaptive).with_sets(args.set)
    static = load_scenario(args.static).with_sets(args.set)
    best, report = select_policy(
        adaptive, static, args.seeds, args.screen_seeds, args.out, args.processes, args.screen_iterations
    )
    atomic_write_text(Path(args.out) / "selection.md", report)
    print(report)
    print(f"chosen: {best}.npz / .json")
    if args.install:
        atomic_write_bytes(target.with_suffix(".npz"), best.with_suffix(".npz").read_bytes())
        meta = json.loads(best.with_suffix(".json").read_text())
        meta["selected_by"] = {
            "learned_on_seeds": list(args.seeds),
            "screen_scenario": Path(args.static).name,
            "screen_seeds": list(args.screen_seeds),
            "screen_iterations": args.screen_iterations or static["run"]["iterations"],
            "report": report,
        }
        atomic_write_json(target.with_suffix(".json"), meta)
        name = str(target) if args.install_dir else f"user:{args.install}"
        print(f"installed as {target}.npz / .json (policy.file = {name!r})")
    return 0


def _scenarios(args) -> int:
    for name in scenario_names():
        print(f"{name}: {scenario_summary(scenario_folder() / f'{name}.toml')}")
    print(f"(in {scenario_folder()}; run one by name: synapse-sim run NAME)")
    return 0


def _population(args) -> int:
    from .studies.analysis import format_report, population_report

    scenario = load_scenario(args.scenario).with_sets(list(args.set or []))
    report = population_report(
        scenario,
        args.policy,
        steps=args.steps,
        warmup=args.warmup,
        n_perturbations=args.perturbations,
        damage_steps=args.damage_steps,
        seed=args.seed,
    )
    text = format_report(report)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


def _rules(args) -> int:
    from .rules import RULES

    for name, cls in sorted(RULES.items()):
        keys = ", ".join(f"{section}.{key}" for section, fields in cls.sections.items() for key in fields)
        print(f"{name}: {cls.summary}\n    scenario keys: {keys or '(none)'}")
    from .locations import learned_rule_names
    from .scenario import read_rule_file

    print("\nlearned rule files (a scenario loads one with rule = NAME, or --set rule=NAME):")
    for name in learned_rule_names():
        print(f"  {name}: {read_rule_file(name)[1]['run']['method']}")
    if not learned_rule_names():
        print("  (none)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="synapse-sim", description=__doc__)
    debug = "show the full traceback of an unexpected error instead of writing it to a log"
    parser.add_argument("--debug", action="store_true", help=debug)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, **kwargs):
        return sub.add_parser(name, parents=[common], **kwargs)

    p = add("run", help="run a scenario to a results folder")
    p.add_argument("scenario", nargs="?", help="scenario TOML file or shipped name (synapse-sim scenarios)")
    p.add_argument("--engine", choices=("vector", "agent"), help="vectorised backend (default) or Mesa agent view")
    p.add_argument("--seed", type=int, help="run.seed")
    p.add_argument("--iterations", type=int, help="run.iterations")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a scenario key, e.g. policy.epsilon=0.1"
    )
    p.add_argument("--out", help="results folder (default: runs/<scenario>/seed<N>)")
    p.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR exactly")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--data", help="notMNIST data (task.data): idx files, PNG folder, .tar.gz or .npz")
    p.set_defaults(func=_run)

    f = add("fig1", help="decision-boundary reproduction over seeds: adaptive (Fig. 1) and static (Fig. 2)")
    f.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="adaptive runs' seeds")
    f.add_argument(
        "--static-seeds",
        type=int,
        nargs="*",
        default=[100, 101, 102, 103, 104],
        help="seeds of the unseen boundaries for the static policy",
    )
    f.add_argument("--adaptive", default=ADAPTIVE, help="scenario file or shipped name")
    f.add_argument("--static", default=STATIC, help="scenario file or shipped name")
    f.add_argument("--iterations", type=int, help="run.iterations of every run")
    f.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key in both scenarios")
    add_processes(f)
    f.add_argument("--out", default="runs/fig1")
    f.set_defaults(func=_fig1)

    lp = add("learn-policy", help="learn policies with the adaptive scenario, pick one by a held-out screen")
    lp.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="adaptive runs' seeds")
    lp.add_argument(
        "--screen-seeds",
        type=int,
        nargs="+",
        default=[10, 11, 12],
        help="seeds of the screen runs (boundaries, or notMNIST splits)",
    )
    lp.add_argument("--adaptive", default=ADAPTIVE, help="scenario file or shipped name")
    lp.add_argument(
        "--static",
        default=STATIC,
        help="scenario that screens each learned table frozen (a notMNIST scenario screens on notMNIST)",
    )
    lp.add_argument("--screen-iterations", type=int, help="iterations of each screen run (default: the scenario's)")
    add_processes(lp)
    lp.add_argument("--out", default="runs/learn-policy")
    lp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a key in both scenarios")
    lp.add_argument(
        "--install",
        metavar="NAME",
        help="copy the chosen policy to the user policy folder as NAME (then policy.file = 'user:NAME'; "
        f"the folder: $SYNAPSE_SIM_HOME/policies, else {user_policy_folder()})",
    )
    lp.add_argument("--install-dir", metavar="DIR", help="install into DIR instead (policy.file = DIR/NAME)")
    lp.add_argument("--replace", action="store_true", help="write over an installed policy of the same NAME")
    lp.set_defaults(func=_learn_policy)

    add_comparison_commands(add)

    sc = add("scenarios", help="list the shipped scenarios, one line each (run one by name)")
    sc.set_defaults(func=_scenarios)

    pp = add(
        "population",
        help="a synaptic-RL population as an automaton: reachable states, canonical rule name, "
        "state occupancy, damage statistics, entropy",
    )
    pp.add_argument("scenario", nargs="?", default=STATIC, help=f"scenario file or shipped name (default {STATIC})")
    pp.add_argument(
        "--policy", help="run this policy frozen instead of the scenario's: shipped, shipped:NAME, user:NAME or a path"
    )
    pp.add_argument("--warmup", type=int, default=1000, help="steps before recording (default 1000)")
    pp.add_argument("--steps", type=int, default=500, help="steps recorded (default 500)")
    pp.add_argument("--perturbations", type=int, default=100, help="single-synapse memory flips (default 100)")
    pp.add_argument("--damage-steps", type=int, default=200, help="steps each flip is followed (default 200)")
    pp.add_argument("--seed", type=int, default=0, help="seed of the flips (the run's own is run.seed)")
    pp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a scenario key")
    pp.add_argument("--out", help="also write the report (markdown) to this file")
    pp.set_defaults(func=_population)

    r = add("rules", help="list the registered learning rules and their scenario keys")
    r.set_defaults(func=_rules)

    from .dashboard.server import add_arguments
    from .dashboard.server import command as dashboard_command

    d = add("dashboard", help="browser dashboard of the agent view, on a scenario or a results folder")
    add_arguments(d)
    d.set_defaults(func=dashboard_command)

    t = add("table1", help="Table 1: synaptic RL vs gradient descent on notMNIST, 0 and 32 hidden units")
    t.add_argument(
        "--data", help="notMNIST data: idx files, PNG folder, .tar.gz or .npz (default: $SYNAPSE_SIM_NOTMNIST)"
    )
    t.add_argument(
        "--seeds",
        type=int,
        default=5,
        help="runs per experiment (seeds 0..N-1; an RL run stopped early is replaced by the next seed)",
    )
    t.add_argument("--max-iterations", type=int, help="cap synaptic-RL iterations (a shorter, cheaper table)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key in all four scenarios")
    add_processes(t)
    t.add_argument("--scenarios", default=str(scenario_folder()), help="folder holding notmnist_*.toml")
    t.add_argument("--out", default="runs/table1")
    t.set_defaults(func=_table1)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from .studies.cluster import use_scheduler

    try:
        with use_scheduler(getattr(args, "scheduler", None)):
            return args.func(args)
    except (ScenarioError, PolicyFileError, DataError, RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        why = str(exc) or "a results folder keeps its last checkpoint; --resume DIR continues it"
        print(f"\ninterrupted ({why})", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        log = write_error_log(argv)
        kind = "" if isinstance(exc, OSError) else f"{type(exc).__name__}: "
        where = f"the traceback is in {log}" if log else "the traceback could not be written to a log"
        print(f"error: {kind}{exc}\n({where}; add --debug to see it here)", file=sys.stderr)
        return 1


def write_error_log(argv) -> Path | None:
    """The current exception's traceback, in the user folder's ``logs/`` (None if it cannot be written)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = user_folder() / "logs" / f"error-{stamp}-{os.getpid()}.log"
    command = " ".join(["synapse-sim", *(sys.argv[1:] if argv is None else map(str, argv))])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{command}\n\n{traceback.format_exc()}")
    except OSError:
        return None
    return path


if __name__ == "__main__":
    sys.exit(main())
