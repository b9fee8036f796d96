"""Run a scenario to a results folder: progress, checkpoints, interruption, resume.

A results folder holds ``scenario.toml`` (the resolved scenario), ``checkpoint.npz``
(everything needed to continue exactly), and at the end ``summary.json``,
``history.npz``, ``rule.json`` (the rule and its parameters), the rule's own outputs
(synaptic RL: ``policy.npz`` + ``policy.json``) and the figures. Every file is
written atomically; Ctrl-C or SIGTERM writes a checkpoint before stopping.
"""

from __future__ import annotations

import contextlib
import platform
import signal
import time
from pathlib import Path

import numpy as np

from . import __version__
from .io import atomic_savez, atomic_write_bytes, atomic_write_json, atomic_write_text
from .records import History
from .scenario import Scenario, ScenarioError
from .tasks import NonFiniteLossError

CHECKPOINT_FORMAT = 1
STOPPED_EARLY = "stopped early"
RESUMABLE_CHANGES = {
    "run.max_evaluations",
    "policy.average_from",
    "run.iterations",
    "run.checkpoint_every",
    "run.engine",
    "run.validate_every",
    "task.data",
}


class RunError(RuntimeError):
    """A run cannot start or continue; the message says why and what to do."""


class Interrupted(Exception):
    pass


def make_engine(scenario: Scenario, engine: str | None = None, **kwargs):
    """The vectorised engine or the Mesa agent view for ``scenario``."""
    engine = engine or scenario["run"]["engine"]
    if engine == "vector":
        from .engine.vector import VectorEngine

        return VectorEngine(scenario, **kwargs)
    if engine == "agent":
        from .model import SynapseModel

        return SynapseModel(scenario, **kwargs)
    raise ScenarioError(f"unknown engine {engine!r}; allowed: 'vector', 'agent'")


def default_out_dir(scenario: Scenario, root="runs") -> Path:
    name = scenario["run"]["name"] or (Path(scenario.source).stem if scenario.source else "run")
    return Path(root) / name / f"seed{scenario['run']['seed']}"


@contextlib.contextmanager
def interrupt_flag():
    """Turn SIGINT / SIGTERM into a flag the run loop checks after each step."""
    flag = {"signal": None}

    def handler(signum, _frame):
        flag["signal"] = signal.Signals(signum).name

    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except ValueError:  # not the main thread: no handlers, no interruption
            pass
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def save_checkpoint(path: Path, engine, history: History, wall_time: float) -> None:
    state = engine.checkpoint()
    arrays = {f"engine_{k}": v for k, v in state.items()}
    arrays.update({f"history_{k}": v for k, v in history.to_arrays().items()})
    arrays["format"] = np.array(CHECKPOINT_FORMAT)
    arrays["wall_time"] = np.array(wall_time)
    atomic_savez(path, **arrays)


def load_checkpoint(path: Path) -> tuple[dict, dict, float]:
    if not path.is_file():
        raise RunError(f"no checkpoint at {path}: this folder holds no interrupted run to resume")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        if int(arrays.get("format", -1)) != CHECKPOINT_FORMAT:
            raise ValueError("unknown checkpoint format")
    except Exception as exc:
        raise RunError(
            f"checkpoint {path} is corrupt or unreadable ({exc}); rerun the scenario from the start"
        ) from None
    engine_state = {k[len("engine_") :]: v for k, v in arrays.items() if k.startswith("engine_")}
    history = {k[len("history_") :]: v for k, v in arrays.items() if k.startswith("history_")}
    return engine_state, history, float(arrays["wall_time"])


def changed_keys(saved: Scenario, new: Scenario) -> set[str]:
    """The ``section.key`` names whose values differ between two scenarios."""
    return {f"{s}.{k}" for s in saved.data for k in saved.data[s] if saved.data[s][k] != new.data[s][k]}


def check_same_run(out_dir: Path, scenario: Scenario) -> None:
    """Refuse to read back or resume a folder that holds a run of another scenario."""
    saved = Path(out_dir) / "scenario.toml"
    if not saved.is_file():
        return
    changed = changed_keys(Scenario.load(saved), scenario) - RESUMABLE_CHANGES
    if changed:
        raise RunError(
            f"results folder {out_dir} holds a run of another scenario ({', '.join(sorted(changed))} differ); "
            "move or delete it, or write elsewhere (--out), so old results are not mixed with new ones"
        )


def prepare(scenario: Scenario | None, out_dir, resume: bool, sets=()):
    """Check the folder and return (scenario, engine state or None, history arrays, wall time)."""
    out_dir = Path(out_dir)
    checkpoint = out_dir / "checkpoint.npz"
    if resume:
        saved = out_dir / "scenario.toml"
        if not saved.is_file():
            raise RunError(f"{out_dir} is not a results folder (no scenario.toml); nothing to resume")
        base = Scenario.load(saved)
        resumed = (scenario if scenario is not None else base).with_sets(list(sets))
        changed = changed_keys(base, resumed) - RESUMABLE_CHANGES
        if changed:
            raise RunError(
                f"cannot change {sorted(changed)} when resuming (it would not continue "
                f"the same run); only {sorted(RESUMABLE_CHANGES)} may change"
            )
        engine_state, history, wall = load_checkpoint(checkpoint)
        return resumed, engine_state, history, wall
    if checkpoint.exists() or (out_dir / "summary.json").exists():
        raise RunError(
            f"results folder {out_dir} already holds a run; pass --resume {out_dir} to continue it, "
            "or --out to write elsewhere"
        )
    return scenario, None, None, 0.0


def run(
    scenario: Scenario | None,
    out_dir,
    *,
    resume: bool = False,
    sets=(),
    progress: bool = True,
    interrupt_at: int | None = None,
    engine_kwargs=None,
) -> dict:
    """Run (or resume) a scenario into ``out_dir`` and return its summary.

    ``interrupt_at`` stops as if interrupted after that many steps (for tests).
    """
    out_dir = Path(out_dir)
    if scenario is not None and not resume and scenario["run"]["method"] == "gradient_descent":
        return run_gradient_descent(scenario, out_dir, progress)
    scenario, engine_state, history_arrays, wall_before = prepare(scenario, out_dir, resume, sets)
    iterations = scenario["run"]["iterations"]
    engine_name = scenario["run"]["engine"]
    engine = make_engine(scenario, engine_name, **(engine_kwargs or {}))
    simulation = engine.simulation
    history = History(iterations)
    if engine_state is not None:
        engine.restore(engine_state)
        history = History.from_arrays(history_arrays, iterations)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "scenario.toml", scenario.to_toml())

    n = simulation.topology.n_synapses
    every = scenario["run"]["checkpoint_every"]
    validate_every = scenario["run"]["validate_every"]
    checkpoint_path = out_dir / "checkpoint.npz"
    start_step = simulation.step_count
    started = time.perf_counter()
    status = "completed"
    early_stop_at = scenario["run"]["early_stop_iteration"]
    early_stop_below = scenario["run"]["early_stop_accuracy"]
    bar = _progress(progress, iterations, start_step, out_dir)
    try:
        with interrupt_flag() as flag:
            max_evaluations = scenario["run"]["max_evaluations"] or float("inf")
            while simulation.step_count < iterations and simulation.evaluations < max_evaluations:
                engine.step()
                result = engine.last_result
                history.record(result, n)
                t = result.step
                if validate_every and t % validate_every == 0:
                    history.record_validation(t, simulation.task.validate(engine.weight_matrices()))
                if bar is not None:
                    bar.update(1)
                    if t % 100 == 0:
                        bar.set_postfix(loss=f"{result.loss:.4g}", acc=f"{result.accuracy:.3f}", refresh=False)
                if interrupt_at is not None and t >= interrupt_at:
                    flag["signal"] = "requested"
                if flag["signal"]:
                    raise Interrupted(flag["signal"])
                if every and t % every == 0:
                    save_checkpoint(checkpoint_path, engine, history, wall_before + time.perf_counter() - started)
                if t == early_stop_at and result.accuracy < early_stop_below:
                    status = f"{STOPPED_EARLY} (training accuracy {result.accuracy:.3f} < {early_stop_below} at {t})"
                    break
    except Interrupted as stop:
        status = f"interrupted ({stop.args[0]})"
    except NonFiniteLossError as exc:
        _close(bar)
        summary = _summary(scenario, engine, history, "failed: " + str(exc), wall_before, started, start_step)
        atomic_write_json(out_dir / "summary.json", summary)
        raise RunError(f"{exc} (results folder: {out_dir})") from None
    finally:
        _close(bar)
    steps_validated = history.validation["step"]
    done = simulation.step_count
    if (
        validate_every
        and done
        and not status.startswith("interrupted")
        and (not steps_validated or steps_validated[-1] != done)
    ):
        history.record_validation(done, simulation.task.validate(engine.weight_matrices()))
    wall = wall_before + time.perf_counter() - started
    save_checkpoint(checkpoint_path, engine, history, wall)
    summary = _summary(scenario, engine, history, status, wall_before, started, start_step)
    write_results(out_dir, scenario, engine, history, summary)
    return summary


def _progress(enabled: bool, total: int, initial: int, out_dir):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=str(out_dir), unit="it", mininterval=0.5, dynamic_ncols=True)


def _close(bar) -> None:
    if bar is not None:
        bar.close()


def _summary(scenario, engine, history: History, status, wall_before, started, start_step) -> dict:
    simulation = engine.simulation
    wall = wall_before + time.perf_counter() - started
    steps_now = simulation.step_count - start_step
    arrays = history.arrays
    last = history.length - 1
    summary = {
        "status": status,
        "steps": simulation.step_count,
        "iterations": scenario["run"]["iterations"],
        "engine": scenario["run"]["engine"],
        "final_loss": float(arrays["loss"][last]) if last >= 0 else None,
        "final_accuracy": float(arrays["accuracy"][last]) if last >= 0 else None,
        "best_accuracy": float(np.nanmax(arrays["accuracy"][: history.length])) if last >= 0 else None,
        "first_step_accuracy_95": history.first_step_reaching(0.95),
        "wall_time_s": round(wall, 3),
        "steps_per_second_this_session": round(steps_now / max(time.perf_counter() - started, 1e-9), 2),
        "n_synapses": simulation.topology.n_synapses,
        "rule": simulation.rule.name,
        "evaluations": simulation.evaluations,
        "parameters": scenario.to_dict(),
        "versions": {"synapse_sim": __version__, "python": platform.python_version(), "numpy": np.__version__},
    }
    if history.validation["step"]:
        summary["final_validation_loss"] = history.validation["loss"][-1]
        summary["final_validation_accuracy"] = history.validation["accuracy"][-1]
    return summary


def write_results(out_dir: Path, scenario, engine, history: History, summary: dict) -> None:
    from .plots import figure_curves, figure_decision_boundary, png_bytes

    arrays = history.to_arrays()
    atomic_savez(out_dir / "history.npz", **arrays)
    simulation = engine.simulation
    rule = simulation.rule
    atomic_write_json(out_dir / "rule.json", {"rule": rule.name, "params": rule.params(), "steps": summary["steps"]})
    rule.save_outputs(out_dir, learned_by=summary["parameters"], steps=summary["steps"])
    title = f"{Path(scenario.source).stem if scenario.source else 'run'} seed {scenario['run']['seed']}"
    if history.length:
        atomic_write_bytes(out_dir / "curves.png", png_bytes(figure_curves(arrays, title)))
        if scenario["task"]["name"] == "decision_boundary":
            fig = figure_decision_boundary(engine.simulation.task, engine.weight_matrices(), arrays, title)
            atomic_write_bytes(out_dir / "figure.png", png_bytes(fig))
    atomic_write_json(out_dir / "summary.json", summary)


def run_gradient_descent(scenario: Scenario, out_dir, progress: bool = True) -> dict:
    """The gradient-descent baseline on the scenario's data, split and initial weights.

    It trains in seconds to minutes, so it keeps no checkpoint: an interrupted
    baseline is simply run again (``experiments.run_job`` does that).
    """
    from .baselines.gradient import train_gradient_descent
    from .engine.simulation import scenario_initial_weights
    from .engine.topology import Topology
    from .tasks.notmnist import notmnist_split

    if scenario["task"]["name"] != "notmnist":
        raise RunError("run.method = 'gradient_descent' is implemented for the notMNIST task only")
    out_dir = Path(out_dir)
    if (out_dir / "summary.json").exists():
        raise RunError(f"results folder {out_dir} already holds a run; use --out to write elsewhere")
    network, grad = scenario["network"], scenario["gradient"]
    topology = Topology.from_layers(network["layers"])
    flat = scenario_initial_weights(scenario, topology)
    x_train, y_train, x_val, y_val = notmnist_split(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "scenario.toml", scenario.to_toml())

    def report(entry):
        if progress:
            print(
                f"  epoch {entry['epoch']:>6}: train loss {entry['train_loss']:.4f}, "
                f"validation loss {entry['val_loss']:.4f}, accuracy {entry['val_accuracy']:.4f}",
                flush=True,
            )

    result = train_gradient_descent(
        topology.matrices(flat),
        x_train,
        y_train,
        x_val,
        y_val,
        learning_rate=grad["learning_rate"],
        max_epochs=grad["max_epochs"],
        evaluate_every=grad["evaluate_every"],
        patience=grad["patience"],
        min_delta=grad["min_delta"],
        hidden_activation=network["hidden_activation"],
        progress=report,
    )
    history = {k: np.asarray(v) for k, v in result.history.items()}
    atomic_savez(out_dir / "history.npz", **history)
    atomic_savez(out_dir / "weights.npz", **{f"layer{i}": w for i, w in enumerate(result.weights)})
    summary = {
        "status": "completed",
        "method": "gradient_descent",
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "stopped_by": result.stopped_by,
        "final_validation_loss": result.best_val_loss,
        "final_validation_accuracy": result.best_val_accuracy,
        "wall_time_s": round(result.wall_time_s, 3),
        "n_synapses": topology.n_synapses,
        "parameters": scenario.to_dict(),
        "versions": {"synapse_sim": __version__, "python": platform.python_version(), "numpy": np.__version__},
    }
    atomic_write_json(out_dir / "summary.json", summary)
    return summary
