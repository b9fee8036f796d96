"""Run a scenario to a results folder: progress, checkpoints, interruption, resume.

A results folder holds ``scenario.toml`` (the resolved scenario), ``checkpoint.npz``
(everything needed to continue exactly), ``manifest.json`` (what the run wrote and what it
was made of, :mod:`synapse_sim.folder`), and at the end ``summary.json``, ``history.npz``,
``rule.json`` (the rule and its parameters), the rule's own outputs (synaptic RL:
``policy.npz`` + ``policy.json``) and the figures. Every file is written atomically; Ctrl-C
or SIGTERM writes a checkpoint before stopping; ``run.lock`` keeps a second run out.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from . import __version__
from .folder import CHECKPOINT, RESULT_FILES, SCENARIO, SUMMARY, ResultsFolder, RunError, folder_state
from .interrupts import Interrupted, interrupt_flag, stop_reason
from .io import atomic_savez, atomic_write_bytes, atomic_write_json, atomic_write_text
from .provenance import (  # noqa: F401 (RESUMABLE_CHANGES, changed_keys, check_same_run: used from here)
    RESUMABLE_CHANGES,
    begin,
    blas_threads,
    changed_keys,
    check_baseline_folder,
    check_same_run,
    check_toml_integers,
    current_blas_threads,
    folder_scenario,
    summary_record,
    trained_on,
)
from .records import History, load_checkpoint, save_checkpoint
from .scenario import Scenario, ScenarioError
from .tasks import NonFiniteLossError

STOPPED_EARLY = "stopped early"


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


def prepare(scenario: Scenario | None, folder: ResultsFolder, resume: bool, sets=()):
    """Check the folder and return (scenario, engine state or None, history arrays, wall time)."""
    out_dir = folder.path
    state = folder_state(out_dir)
    folder.manifest = state.manifest
    if not resume:
        if state.holds_run:
            raise RunError(f"results folder {out_dir} already holds a run ({state.what()}); {state.advice()}")
        check_toml_integers(scenario)
        return scenario, None, None, 0.0
    if not state.holds_run:
        raise RunError(f"{out_dir} is not a results folder (no {SCENARIO}, checkpoint or manifest); nothing to resume")
    if not state.resumable():
        raise RunError(f"cannot resume the run in {out_dir} ({state.what()}): {state.advice()}")
    base = folder_scenario(out_dir, state.manifest)
    resumed = (scenario if scenario is not None else base).with_sets(list(sets))
    changed = changed_keys(base, resumed) - RESUMABLE_CHANGES
    if changed:
        raise RunError(
            f"cannot change {sorted(changed)} when resuming (it would not continue "
            f"the same run); only {sorted(RESUMABLE_CHANGES)} may change"
        )
    check_toml_integers(resumed)
    if state.checkpoint_step is None:  # started, never checkpointed: the same run from step 0
        return resumed, None, None, 0.0
    engine_state, history, wall = load_checkpoint(out_dir / CHECKPOINT)
    done = int(engine_state["step"])
    if resumed["run"]["iterations"] < done:
        raise RunError(
            f"run.iterations = {resumed['run']['iterations']} is below the {done} steps the run in {out_dir} has "
            f"done; a run is never shortened: give run.iterations >= {done}, or start a shorter run elsewhere (--out)"
        )
    return resumed, engine_state, history, wall


def restore(engine, engine_state, history_arrays, iterations, out_dir) -> History:
    """Load a checkpoint into the engine; a checkpoint that does not fit is a clear error."""
    conflict = getattr(engine.simulation.rule, "resume_conflict", None)
    try:
        message = conflict(engine_state) if conflict else None
        if message is None:
            engine.restore(engine_state)
            return History.from_arrays(history_arrays, iterations)
    except (KeyError, ValueError, IndexError, TypeError, NonFiniteLossError) as exc:
        raise RunError(
            f"checkpoint {out_dir / CHECKPOINT} cannot be restored ({type(exc).__name__}: {exc}); it cannot be "
            f"resumed; to start over, delete the folder (rm -r {out_dir}) or write elsewhere (--out)"
        ) from None
    raise RunError(f"cannot resume the run in {out_dir}: {message}")


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

    The folder is locked for the duration (:mod:`synapse_sim.folder`); ``interrupt_at`` stops as
    if interrupted after that many steps (for tests).
    """
    out_dir = Path(out_dir)
    if scenario is not None and not resume and scenario["run"]["method"] == "gradient_descent":
        return run_gradient_descent(scenario, out_dir, progress)
    with ResultsFolder.owned(out_dir, create=not resume) as folder:
        scenario, engine_state, history_arrays, wall_before = prepare(scenario, folder, resume, sets)
        manifest = folder.manifest
        threads = manifest.data.get("blas_threads") if manifest is not None else None
        threads = threads or current_blas_threads()
        with blas_threads(threads):
            try:
                engine = make_engine(scenario, scenario["run"]["engine"], **(engine_kwargs or {}))
            except NonFiniteLossError as exc:
                loss = str(exc).split(";")[0].split(" at step")[0]
                raise RunError(
                    f"{loss} before the first step (at the initial weights or the checkpoint's); check the data for "
                    "NaN/inf values and network.init_range (the folder was not changed)"
                ) from None
            history = History(scenario["run"]["iterations"])
            if engine_state is not None:
                history = restore(engine, engine_state, history_arrays, scenario["run"]["iterations"], out_dir)
            rule = engine.simulation.rule
            inputs = [("policy.file", getattr(rule, "input_files", tuple)()), _data_input(scenario)]
            names = (*RESULT_FILES, *getattr(rule, "output_files", ()))
            trained = trained_on(engine.simulation.task)
            effective = begin(folder, scenario, names, inputs, trained, threads, getattr(rule, "policy_source", None))
            with folder.guard():
                atomic_write_text(out_dir / SCENARIO, scenario.to_toml())
                extra = summary_record(folder, effective)
                return _loop(scenario, engine, history, out_dir, wall_before, progress, interrupt_at, extra)


def _data_input(scenario: Scenario) -> tuple[str, list[Path]]:
    data = scenario["task"]["data"] if scenario["task"]["name"] == "notmnist" else None
    return ("task.data", [Path(data).expanduser()] if data else [])


def _loop(scenario, engine, history: History, out_dir: Path, wall_before, progress, interrupt_at, extra) -> dict:
    simulation = engine.simulation
    iterations = scenario["run"]["iterations"]
    n = simulation.topology.n_synapses
    every = scenario["run"]["checkpoint_every"]
    validate_every = scenario["run"]["validate_every"]
    checkpoint_path = out_dir / CHECKPOINT
    start_step = simulation.step_count
    started = time.perf_counter()
    status = "completed"
    early_stop_at = scenario["run"]["early_stop_iteration"]
    early_stop_below = scenario["run"]["early_stop_accuracy"]
    bar = _progress(progress, iterations, start_step, out_dir)
    polled = time.monotonic()
    with interrupt_flag() as flag:
        try:
            max_evaluations = scenario["run"]["max_evaluations"] or float("inf")
            while simulation.step_count < iterations and simulation.evaluations < max_evaluations:
                engine.step()
                result = engine.last_result
                history.record(result, n)
                t = result.step
                reached = simulation.task.stop_reason(history)
                if reached:
                    extra["stopped_by"] = reached
                    break
                if validate_every and t % validate_every == 0:
                    history.record_validation(t, simulation.task.validate(engine.weight_matrices()))
                    stable = stable_accuracy(history, scenario)
                    if stable:
                        extra["stopped_by"] = stable
                        break
                if bar is not None:
                    bar.update(1)
                    if t % 100 == 0:
                        bar.set_postfix(loss=f"{result.loss:.4g}", acc=f"{result.accuracy:.3f}", refresh=False)
                if interrupt_at is not None and t >= interrupt_at:
                    flag["signal"] = "requested"
                if not flag["signal"] and time.monotonic() - polled >= 1:
                    polled = time.monotonic()
                    flag["signal"] = stop_reason()
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
            failed = f"failed: {exc}"
            summary = _summary(scenario, engine, history, failed, wall_before, started, start_step) | extra
            atomic_write_json(out_dir / SUMMARY, summary)
            state = folder_state(out_dir)
            raise RunError(f"{failed.removeprefix('failed: ')} (results folder {out_dir}: {state.advice()})") from None
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
        summary = _summary(scenario, engine, history, status, wall_before, started, start_step) | extra
        write_results(out_dir, scenario, engine, history, summary)
    return summary


def stable_accuracy(history: History, scenario) -> str | None:
    """Why the run stops, if the held-out accuracy (rounded to ``run.stable_precision``) was the same
    at the last ``run.stable_checks`` checks (the Q-AGREL paper's rule: 5 checks at 0.1 %).

    The paper draws its validation images anew each epoch; ours are fixed, so a network that
    still gives every image its initial answer scores the same at every check. Such a plateau
    is not convergence: the rule counts only once the accuracy has moved from its first check."""
    checks, precision = scenario["run"]["stable_checks"], scenario["run"]["stable_precision"]
    accuracy = history.validation["accuracy"]
    if not checks or len(accuracy) < checks:
        return None
    rounded = [round(a / precision) for a in accuracy]
    if len(set(rounded[-checks:])) > 1 or len(set(rounded)) == 1:
        return None
    return f"held-out accuracy stable at {accuracy[-1]:.4f} (to {precision:g}) for {checks} checks"


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
    atomic_write_json(out_dir / SUMMARY, summary)


def run_gradient_descent(scenario: Scenario, out_dir, progress: bool = True) -> dict:
    """The gradient-descent baseline on the scenario's data, split and initial weights.

    It trains in seconds to minutes, so it keeps no checkpoint: an interrupted
    baseline is simply run again (``experiments.run_job`` does that).
    """
    if scenario["task"]["name"] != "notmnist":
        raise RunError("run.method = 'gradient_descent' is implemented for the notMNIST task only")
    if scenario["run"]["device"] != "cpu" or scenario["run"]["array_library"] not in ("auto", "numpy"):
        raise RunError("run.method = 'gradient_descent' trains in NumPy on the CPU: remove run.device / array_library")
    with ResultsFolder.owned(out_dir, create=True) as folder:
        check_baseline_folder(folder, scenario)
        check_toml_integers(scenario)
        threads = (folder.manifest.data.get("blas_threads") if folder.manifest else None) or current_blas_threads()
        with blas_threads(threads):
            begin(folder, scenario, RESULT_FILES, [_data_input(scenario)], None, threads)
            with folder.guard():
                return _gradient_descent(scenario, out_dir, progress, summary_record(folder, {}))


def _gradient_descent(scenario: Scenario, out_dir: Path, progress: bool, extra: dict) -> dict:
    from .baselines.gradient import train_gradient_descent
    from .engine.simulation import scenario_initial_weights
    from .engine.topology import Topology
    from .tasks.notmnist import notmnist_split

    network, grad = scenario["network"], scenario["gradient"]
    topology = Topology.from_layers(network["layers"])
    flat = scenario_initial_weights(scenario, topology)
    x_train, y_train, x_val, y_val = notmnist_split(scenario)
    atomic_write_text(out_dir / SCENARIO, scenario.to_toml())

    def report(entry):
        if progress:
            print(
                f"  epoch {entry['epoch']:>6}: train loss {entry['train_loss']:.4f}, "
                f"validation loss {entry['val_loss']:.4f}, accuracy {entry['val_accuracy']:.4f}",
                flush=True,
            )

    try:
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
    except NonFiniteLossError as exc:
        raise RunError(f"{exc} (results folder: {out_dir}); lower gradient.learning_rate") from None
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
        **extra,
    }
    atomic_write_json(out_dir / SUMMARY, summary)
    return summary
