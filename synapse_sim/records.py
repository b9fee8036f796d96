"""Per-step history of a run, kept as preallocated arrays."""

from __future__ import annotations

import numpy as np

STEP_FIELDS = ("loss", "accuracy", "reward", "decrement", "keep", "increment", "step_size", "evaluations")


class History:
    """Per step: loss, accuracy, the broadcast as one number (``reward``), the action mix, the
    rule's step size and the loss evaluations so far; held-out metrics every k steps."""

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
        self.length = result.step

    def record_validation(self, step: int, metrics: dict) -> None:
        if not metrics:  # the task has no held-out data
            return
        self.validation["step"].append(step)
        self.validation["loss"].append(metrics["loss"])
        self.validation["accuracy"].append(metrics["accuracy"])

    def grow(self, size: int) -> None:
        for name, values in self.arrays.items():
            grown = np.full(size, np.nan)
            grown[: values.size] = values
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
        history.length = n
        for key in history.validation:
            history.validation[key] = [float(v) for v in arrays[f"validation_{key}"]]
        history.validation["step"] = [int(v) for v in history.validation["step"]]
        return history

    def first_step_reaching(self, accuracy: float) -> int | None:
        hits = np.nonzero(self.arrays["accuracy"][: self.length] >= accuracy)[0]
        return int(hits[0]) + 1 if hits.size else None
