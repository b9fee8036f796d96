"""Per-step history of a run, kept as preallocated arrays, and the checkpoint that holds it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .folder import RunError, npz_error
from .io import atomic_savez

CHECKPOINT_FORMAT = 1
CHECKPOINT_KEYS = ("format", "wall_time", "engine_step", "engine_weights", "history_loss")

STEP_FIELDS = ("loss", "accuracy", "reward", "decrement", "keep", "increment", "step_size", "evaluations")


class History:
    """Per step: loss, accuracy, the broadcast as one number (``reward``), the action mix, the
    rule's step size and the loss evaluations so far; held-out metrics every k steps; and the
    step's other records (``StepResult.records``), each kept as an array with one row per step
    (integers as int32, e.g. a trial rule's per-class ``selected`` / ``correct`` / ``presented``
    of shape ``(steps, n_classes)``; numbers as float64, e.g. an episode's ``return``)."""

    def __init__(self, iterations: int):
        self.size = int(iterations)
        self.arrays = {name: np.full(self.size, np.nan) for name in STEP_FIELDS}
        self.validation: dict[str, list[float]] = {"step": [], "loss": [], "accuracy": []}
        self.length = 0

    def record(self, result, n_synapses: int) -> None:
        i = result.step - 1
        if i >= self.size:
            self.grow(result.step)
        a = self.arrays
        a["loss"][i], a["accuracy"][i], a["reward"][i] = result.loss, result.accuracy, result.reward
        a["decrement"][i], a["keep"][i], a["increment"][i] = result.action_counts / n_synapses
        a["step_size"][i] = result.step_size
        a["evaluations"][i] = result.evaluations
        for name, value in result.records.items():
            if name not in a:
                a[name] = empty_record(self.size, np.asarray(value))
            a[name][i] = value
        self.length = result.step

    def record_validation(self, step: int, metrics: dict) -> None:
        if not metrics:  # the task has no held-out data
            return
        self.validation["step"].append(step)
        self.validation["loss"].append(metrics["loss"])
        self.validation["accuracy"].append(metrics["accuracy"])

    def grow(self, size: int) -> None:
        for name, values in self.arrays.items():
            grown = np.full((size, *values.shape[1:]), np.nan if values.dtype.kind == "f" else 0, dtype=values.dtype)
            grown[: len(values)] = values
            self.arrays[name] = grown
        self.size = size

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {name: values[: self.length].copy() for name, values in self.arrays.items()}
        out["step"] = np.arange(1, self.length + 1)
        out.update({f"validation_{k}": np.array(v, dtype=np.float64) for k, v in self.validation.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays, iterations: int) -> History:
        history = cls(max(iterations, len(arrays["loss"])))
        n = len(arrays["loss"])
        renamed = {"step_size": "alpha_s"}  # histories written before the rule protocol
        for name in STEP_FIELDS:
            key = name if name in arrays else renamed.get(name)
            if key in arrays:
                history.arrays[name][:n] = arrays[key]
        for name in record_names(arrays):
            values = np.asarray(arrays[name])
            history.arrays[name] = empty_record(history.size, values[0] if len(values) else values.reshape(-1))
            history.arrays[name][:n] = values
        history.length = n
        for key in history.validation:
            history.validation[key] = [float(v) for v in arrays[f"validation_{key}"]]
        history.validation["step"] = [int(v) for v in history.validation["step"]]
        return history

    def first_step_reaching(self, accuracy: float) -> int | None:
        hits = np.nonzero(self.arrays["accuracy"][: self.length] >= accuracy)[0]
        return int(hits[0]) + 1 if hits.size else None


def empty_record(size: int, example: np.ndarray) -> np.ndarray:
    """Room for ``size`` steps of a record shaped like ``example``: int32 zeros for integers, else NaN."""
    if example.dtype.kind in "iub":
        return np.zeros((size, *example.shape), dtype=np.int32)
    return np.full((size, *example.shape), np.nan)


def record_names(arrays) -> list[str]:
    """The keys of saved history arrays that hold a step's other records (``StepResult.records``)."""
    known = {*STEP_FIELDS, "step", "alpha_s"}
    return [k for k in arrays if k not in known and not k.startswith("validation_")]


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
        missing = [k for k in CHECKPOINT_KEYS if k not in arrays]
        if missing:
            raise ValueError(f"it lacks {', '.join(missing)}")
    except Exception as exc:  # zipfile / format errors come in many types
        raise RunError(f"checkpoint {path} is corrupt or unreadable ({npz_error(exc)})") from None
    engine_state = {k[len("engine_") :]: v for k, v in arrays.items() if k.startswith("engine_")}
    history = {k[len("history_") :]: v for k, v in arrays.items() if k.startswith("history_")}
    return engine_state, history, float(arrays["wall_time"])
