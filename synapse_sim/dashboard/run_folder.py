"""A results folder as the dashboard opens it: the run's scenario, its last checkpoint, its history.

``synapse-sim run`` writes ``scenario.toml`` and ``checkpoint.npz`` into a results folder
(see :mod:`synapse_sim.runner`). The checkpoint holds everything needed to continue the run
exactly (every synapse's weight and memory, the rule's shared state, the step and
evaluation counters; the step's randomness is keyed by seed and step, so there is no
generator state to keep) and the per-step history up to that step, which the dashboard
shows as the run's recorded curves.

:func:`open_run_folder` reads and checks a folder (a clear :class:`RunFolderError` names
what is missing or unreadable); :func:`check_run_folder` also checks that the agent view fits
in memory and builds the rule and the task, as the command line does before it starts the
server. :func:`weights_digest` and :func:`state_digest` fingerprint a state, so that two
states can be compared at a glance (the dashboard shows them; the tests compare them with
the vectorised run's).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.topology import Topology
from ..rules import RULES, make_rule
from ..runner import RunError, load_checkpoint
from ..scenario import Scenario, ScenarioError
from .rule_controls import dashboard_rules

SCENARIO_FILE = "scenario.toml"
CHECKPOINT_FILE = "checkpoint.npz"
HISTORY_FILE = "history.npz"


class RunFolderError(RunError):
    """A path the dashboard cannot open as a results folder; the message says what is missing."""


@dataclass
class RunFolder:
    """What the dashboard reads from a results folder."""

    path: Path
    scenario: Scenario
    state: dict[str, np.ndarray]  # the checkpoint's engine state (weights, memory, step, evaluations, rule state)
    history: dict[str, np.ndarray]  # per-step arrays up to the checkpoint's step (records.History.to_arrays)

    @property
    def step(self) -> int:
        return int(self.state["step"])


def looks_like_run_folder(path) -> bool:
    """Whether the dashboard should treat ``path`` as a results folder (it is a directory) rather than a scenario."""
    return Path(path).expanduser().is_dir()


def open_run_folder(path) -> RunFolder:
    """Read and check a results folder; :class:`RunFolderError` names what is missing or unreadable."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise RunFolderError(f"{path} is not a folder: expected a results folder written by `synapse-sim run`")
    missing = [name for name in (SCENARIO_FILE, CHECKPOINT_FILE) if not (path / name).is_file()]
    if missing:
        hint = ""
        if (path / "weights.npz").is_file():
            hint = " (it holds a gradient-descent baseline, which keeps no checkpoint and has no synapse agents)"
        raise RunFolderError(
            f"{path} is not a results folder the dashboard can open: {' and '.join(missing)} missing{hint}; "
            "a folder written by `synapse-sim run SCENARIO --out FOLDER` holds both"
        )
    try:
        scenario = Scenario.load(path / SCENARIO_FILE)
    except ScenarioError as exc:
        raise RunFolderError(f"{path / SCENARIO_FILE} is not a valid scenario: {exc}") from None
    method, task = scenario["run"]["method"], scenario["task"]["name"]
    if method not in dashboard_rules(task):
        what = f"which does not run on task {task!r}" if method in RULES else "no synapse agents"
        raise RunFolderError(
            f"{path} holds a run of {method!r}, {what}; the dashboard opens runs of "
            f"{', '.join(dashboard_rules(task))} on it"
        )
    try:
        state, history, _ = load_checkpoint(path / CHECKPOINT_FILE)
    except RunError as exc:
        raise RunFolderError(str(exc)) from None
    for key in ("weights", "step"):
        if key not in state:
            raise RunFolderError(
                f"{path / CHECKPOINT_FILE} lacks the {key!r} array: it is not a synapse_sim checkpoint"
            )
    n = Topology.from_layers(scenario["network"]["layers"]).n_synapses
    if state["weights"].shape != (n,):
        raise RunFolderError(
            f"{path / CHECKPOINT_FILE} holds {state['weights'].size} weights, but the folder's scenario has "
            f"{n} synapses ({scenario['network']['layers']}): the checkpoint belongs to another run"
        )
    return RunFolder(path.resolve(), scenario, state, recorded_history(path, history, int(state["step"])))


def recorded_history(path: Path, arrays: dict, step: int) -> dict[str, np.ndarray]:
    """The checkpoint's history (it ends at the checkpoint's step), else ``history.npz`` cut to that step."""
    if "loss" not in arrays and (path / HISTORY_FILE).is_file():
        try:
            with np.load(path / HISTORY_FILE, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception:  # a damaged history only costs the curves
            arrays = {}
    if "loss" not in arrays:
        return {"step": np.zeros(0, dtype=np.int64)}
    n = min(len(arrays["loss"]), step)
    out = {k: np.asarray(v)[:n] for k, v in arrays.items() if not k.startswith("validation_") and len(v) >= n}
    out["step"] = np.arange(1, n + 1)
    validation = np.asarray(arrays.get("validation_step", np.zeros(0)))
    keep = validation <= step
    for key in ("step", "loss", "accuracy"):
        values = np.asarray(arrays.get(f"validation_{key}", np.zeros(0)))
        out[f"validation_{key}"] = values[keep] if values.shape == validation.shape else np.zeros(0)
    return out


def check_run_folder(path) -> RunFolder:
    """:func:`open_run_folder`, and the rule and task built from its scenario (the data is found and readable)."""
    from ..engine.footprint import check_fits
    from ..tasks import build_task

    folder = open_run_folder(path)
    scenario = folder.scenario
    try:
        check_fits(scenario, "agent")  # the dashboard holds one agent per synapse
    except ScenarioError as exc:
        raise RunFolderError(f"the run in {folder.path} is too large for the agent view: {exc}") from None
    topology = Topology.from_layers(scenario["network"]["layers"])
    dtype = np.dtype(scenario["network"]["dtype"])
    try:
        rule = make_rule(scenario, topology, dtype)
    except (ScenarioError, ValueError, OSError) as exc:
        raise RunFolderError(
            f"the run's learning rule cannot be built from {folder.path / SCENARIO_FILE}: {exc}"
        ) from None
    lacking = [f.name for f in rule.memory_fields() if not f.derived and f.name not in folder.state]
    if lacking:
        raise RunFolderError(
            f"{folder.path / CHECKPOINT_FILE} lacks {lacking}: it was written for another learning rule than "
            f"the folder's scenario ({scenario['run']['method']})"
        )
    try:
        build_task(scenario, dtype)
    except (ImportError, OSError, ValueError) as exc:
        raise RunFolderError(
            f"the run's task data cannot be loaded ({exc}); the folder's scenario reads task.data = "
            f"{scenario['task']['data']!r}: make that path readable here (or set $SYNAPSE_SIM_NOTMNIST)"
        ) from None
    return folder


def weights_digest(weights: np.ndarray) -> str:
    """SHA-256 of the weight vector's bytes (sid order, the run's dtype)."""
    return hashlib.sha256(np.ascontiguousarray(weights).tobytes()).hexdigest()


def state_digest(state: dict[str, np.ndarray]) -> str:
    """SHA-256 over a checkpoint's arrays (names, dtypes, shapes, bytes, in name order): the whole state."""
    digest = hashlib.sha256()
    for name in sorted(state):
        value = np.ascontiguousarray(state[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape};".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()
