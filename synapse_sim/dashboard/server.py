"""Start the dashboard: ``python -m synapse_sim.dashboard.server [SCENARIO | RUN_FOLDER] [--host H] [--port P]``.

The argument is a scenario (a TOML file or a shipped scenario's name), whose values become
the controls' defaults, or a results folder written by ``synapse-sim run`` (it holds
``scenario.toml`` and ``checkpoint.npz``), which the agents continue from its checkpoint.
Either is checked here, before the server starts: a bad one is a clear error (exit 2).

The server binds to 127.0.0.1 by default, runs solara in production mode with its
version check, browser opening and telemetry off, and serves its front end from the
local cache that ``scripts/setup_dashboard.sh`` fills (see :mod:`.assets`).
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from ..locations import NOTMNIST_ENV_VAR
from ..runner import RunError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
APP = "synapse_sim.app"
SCENARIO_ENV = "SYNAPSE_SIM_DASHBOARD_SCENARIO"
RUN_ENV = "SYNAPSE_SIM_DASHBOARD_RUN"
RUNS_ENV = "SYNAPSE_SIM_DASHBOARD_RUNS"  # the runs page: several results folders, os.pathsep between
# environment solara reads when its settings are imported: no telemetry (the version check and
# browser opening are command-line flags, see solara_arguments), no "runs on Solara" banner over the views
SERVER_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_THEME_SHOW_BANNER": "False",
    "SOLARA_THEME_TITLE": "synapse_sim dashboard",
}
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def solara_arguments(host: str, port: int, open_browser: bool = False) -> list[str]:
    return [
        "run",
        APP,
        "--host",
        host,
        "--port",
        str(port),
        "--production",
        "--no-check-version",
        "--open" if open_browser else "--no-open",
    ]


def server_environment(scenario_path=None, base=None, run_folder=None) -> dict:
    """The server's environment: ``base`` (default ``os.environ``) plus what the app and solara read
    (the scenario's path, or the results folder's, for the app)."""
    env = dict(os.environ if base is None else base)
    env.update(SERVER_ENV)
    # The agent view multiplies small matrices; on a busy machine OpenBLAS's threads only add
    # contention (2-3x slower steps and redraws measured on 2 shared cores). Respect a user's choice.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.pop(SCENARIO_ENV, None)
    env.pop(RUN_ENV, None)
    env.pop(RUNS_ENV, None)
    if run_folder:
        env[RUN_ENV] = str(Path(run_folder).expanduser().resolve())
    elif scenario_path:
        path = Path(scenario_path).expanduser()
        env[SCENARIO_ENV] = str(path.resolve()) if path.exists() else str(scenario_path)  # a shipped name as it is
    return env


def check_target(target) -> tuple[str | None, str | None]:
    """(scenario, results folder) for the command line's argument, checked: a folder is opened as a
    results folder (its scenario, checkpoint, rule and data), anything else loaded as a scenario."""
    if not target:
        return None, None
    from ..scenario import Scenario, ScenarioError
    from .run_folder import check_run_folder, looks_like_run_folder

    if looks_like_run_folder(target):
        return None, str(check_run_folder(target).path)
    try:
        Scenario.load(target)  # a bad file fails here, with the key named, not in the browser
    except ScenarioError as exc:
        if not Path(target).expanduser().exists():
            raise ScenarioError(f"{exc} (nor a results folder: no such folder)") from None
        raise
    return str(target), None


def check_address(host: str, port: int) -> None:
    """Refuse a port out of range, or one already taken on ``host``, before anything is printed or started.

    The probe binds the way uvicorn (solara's server) does: IPv6 when the host has a ':', else IPv4,
    with SO_REUSEADDR, so a port left in TIME_WAIT by a previous dashboard still counts as free.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise RunError(f"--port {port}: a port is a whole number from 1 to 65535 (default {DEFAULT_PORT})")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except socket.gaierror as exc:
            raise RunError(f"--host {host}: not an address this machine can serve on ({exc.strerror})") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise RunError(
                    f"port {port} on {host} is already in use (another dashboard?); stop that program or pick "
                    "another port with --port"
                ) from None
            if exc.errno == errno.EACCES:
                raise RunError(
                    f"no permission to serve on port {port} (ports below 1024 need root); pick another with --port"
                ) from None
            raise RunError(f"cannot serve on {host}:{port}: {exc.strerror or exc}; check --host and --port") from None


def die_with_parent():
    """A ``preexec_fn`` that makes the server child get SIGTERM when this process dies, even by
    ``kill -9`` (Linux ``prctl(PR_SET_DEATHSIG)``); None elsewhere (the child then outlives a killed parent)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent, pr_set_deathsig, sigterm = os.getpid(), 1, int(signal.SIGTERM)

    def preexec() -> None:  # runs in the forked child: one system call, no imports, no locks
        prctl(pr_set_deathsig, sigterm, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return preexec


def check_assets() -> list[str]:
    """Front-end packages missing from solara's cache (the page stays blank offline without them)."""
    from .assets import AssetError, cache_dir, missing, pinned_assets

    try:
        return [a.spec for a in missing(pinned_assets(), cache_dir())]
    except AssetError as exc:
        return [str(exc)]


def serve(
    target=None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, open_browser: bool = False, data=None, runs=None
) -> int:
    """Run the dashboard server on a scenario or a results folder (``target``) until interrupted;
    returns its exit status (130 after Ctrl-C).

    The server runs as a child process (``python -m solara run synapse_sim.app ...``) so that
    its environment (telemetry off, one BLAS thread) holds from the first import; SIGINT and
    SIGTERM are passed on to it, and on Linux it gets SIGTERM when this process dies in any way.
    The port is checked first: a bad or busy one is an error before the URL is printed.
    """
    scenario_path, run_folder = check_target(target)
    check_address(host, port)
    if data is not None and not Path(data).expanduser().exists():
        raise RunError(f"--data {data}: no such file or folder (notMNIST: idx files, a PNG folder, .tar.gz or .npz)")
    absent = check_assets()
    if absent:
        print(
            "warning: solara's front end is not in the local cache ("
            + ", ".join(absent)
            + "); without internet the page stays blank. Run scripts/setup_dashboard.sh once to install it.",
            file=sys.stderr,
        )
    if host not in LOOPBACK:
        print(
            f"warning: serving on {host}: anyone who can reach this address can drive the dashboard (no login)",
            file=sys.stderr,
        )
    command = [sys.executable, "-m", "solara", *solara_arguments(host, port, open_browser)]
    opened = f" on the run in {run_folder}" if run_folder else (f" on {len(runs)} run folders" if runs else "")
    print(f"synapse_sim dashboard{opened}: http://{host}:{port}/ (Ctrl-C stops it)", flush=True)
    env = server_environment(scenario_path, run_folder=run_folder)
    if runs:
        env[RUNS_ENV] = os.pathsep.join(runs)
    if data is not None:  # the notMNIST the page loads when its task is notmnist (tasks.data.load_notmnist)
        env[NOTMNIST_ENV_VAR] = str(Path(data).expanduser().resolve())
    # preexec_fn is unsafe only when another thread may hold a lock the child needs; this one makes a
    # single prctl call (see die_with_parent) and this process starts no threads of its own before it
    child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent())  # noqa: PLW1509

    interrupted = []

    def forward(signum, frame):
        interrupted.append(signum)
        if child.poll() is None:
            child.send_signal(signum)

    main_thread = threading.current_thread() is threading.main_thread()  # signal handlers live there only
    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)} if main_thread else {}
    try:
        while True:
            try:
                status = child.wait()
                break
            except KeyboardInterrupt:
                forward(signal.SIGINT, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 130 if signal.SIGINT in interrupted else status


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument(
        "scenario",
        nargs="*",
        metavar="SCENARIO_OR_RUN_FOLDER",
        help="a scenario (TOML file or shipped name) whose values become the controls' defaults, or a results "
        "folder of `synapse-sim run` (scenario.toml + checkpoint.npz): the agents continue that run from its "
        "checkpoint, the curves show its recorded history; several results folders, or a folder of them (a "
        "compare or table1 output): the runs page, their curves overlaid",
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST}: this machine only)"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--open", action="store_true", help="open a browser on the page")
    parser.add_argument(
        "--data",
        metavar="DIR",
        help="notMNIST data for the page's notmnist task (default: $SYNAPSE_SIM_NOTMNIST, else the sample beside "
        "a checkout, ../shared/data/notmnist)",
    )
    return parser


def command(args: argparse.Namespace) -> int:
    """What ``synapse-sim dashboard`` runs (the CLI's ``func``)."""
    targets = args.scenario or []
    runs = runs_page_folders(targets)
    if runs is not None:
        return serve(host=args.host, port=args.port, open_browser=args.open, data=args.data, runs=runs)
    return serve(
        targets[0] if targets else None, host=args.host, port=args.port, open_browser=args.open, data=args.data
    )


def runs_page_folders(targets: list[str]) -> list[str] | None:
    """The results folders for the runs page (several targets, or one folder holding runs but not one
    itself), None for the page of one scenario or run; a target that is not a folder of runs is an error."""
    from .views.runs import find_runs

    if not targets:
        return None
    if len(targets) == 1:
        path = Path(targets[0]).expanduser()
        if not path.is_dir() or (path / "scenario.toml").is_file() or not find_runs([path]):
            return None  # a scenario, a run, or a folder that is neither (its own error says what is missing)
    for target in targets:
        if not find_runs([target]):
            raise RunError(
                f"{target}: no results folder there (a folder with history.npz, or a folder of them); the runs page "
                "overlays results folders of `synapse-sim run`, `compare` or `table1`"
            )
    return [str(Path(t).expanduser().resolve()) for t in targets]


def main(argv=None) -> int:
    parser = add_arguments(argparse.ArgumentParser(prog="synapse-sim dashboard", description=__doc__.split("\n\n")[0]))
    args = parser.parse_args(argv)
    from ..rules.synaptic_rl.policy import PolicyFileError
    from ..scenario import ScenarioError

    try:
        return command(args)
    except (ScenarioError, PolicyFileError, RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
