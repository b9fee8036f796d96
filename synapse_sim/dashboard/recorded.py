"""The curves' steps that are not in the model's DataCollector: a run folder's, fast-forwards', earlier agents'.

A :class:`~.model.DashboardModel` opened from a results folder starts with the run's
recorded history (steps 1 to the checkpoint's); a fast-forward appends its steps (and
first moves the DataCollector's rows here, so the DataCollector always holds the agent
steps since the last fast-forward). The curves view shows these steps, then the
DataCollector's; each step remembers where it came from (:data:`SOURCES`).
"""

from __future__ import annotations

import numpy as np

SOURCES = ("agents", "the run (results folder)", "fast-forward (vectorised)")
AGENTS, RUN, FAST_FORWARD = range(3)
SERIES = ("loss", "accuracy", "reward", "decrement", "keep", "increment", "return")  # return: control tasks


class Recorded:
    """Per-step series (:data:`SERIES`), their steps and sources, and held-out evaluations."""

    def __init__(self):
        self._parts: list[dict[str, np.ndarray]] = []
        self._joined: dict[str, np.ndarray] | None = None
        self.validation: dict[str, list] = {"step": [], "loss": [], "accuracy": []}

    def __len__(self) -> int:
        return sum(part["step"].size for part in self._parts)

    @property
    def last_step(self) -> int | None:
        return int(self._parts[-1]["step"][-1]) if self._parts else None

    def append(self, steps, series: dict, source: int) -> None:
        steps = np.asarray(steps, dtype=np.int64)
        if not steps.size:
            return
        part = {"step": steps, "source": np.full(steps.size, source, dtype=np.int8)}
        for name in SERIES:
            values = series.get(name)
            part[name] = np.asarray(values, dtype=np.float64) if values is not None else np.full(steps.size, np.nan)
        self._parts.append(part)
        self._joined = None

    def add_validation(self, step: int, metrics: dict) -> None:
        if metrics:
            self.validation["step"].append(int(step))
            self.validation["loss"].append(float(metrics["loss"]))
            self.validation["accuracy"].append(float(metrics["accuracy"]))

    def arrays(self) -> dict[str, np.ndarray]:
        """Every series joined, oldest step first (the result is cached until the next append)."""
        if self._joined is None:
            names = ("step", "source", *SERIES)
            if self._parts:
                self._joined = {k: np.concatenate([part[k] for part in self._parts]) for k in names}
            else:
                self._joined = {k: np.zeros(0, dtype=np.int64 if k == "step" else np.float64) for k in names}
                self._joined["source"] = np.zeros(0, dtype=np.int8)
        return self._joined

    @classmethod
    def from_history(cls, history: dict) -> Recorded:
        """A run's history arrays (``records.History.to_arrays``, as a checkpoint holds them)."""
        recorded = cls()
        recorded.append(history["step"], history, RUN)
        for step, loss, accuracy in zip(
            history.get("validation_step", ()),
            history.get("validation_loss", ()),
            history.get("validation_accuracy", ()),
            strict=False,
        ):
            recorded.add_validation(int(step), {"loss": loss, "accuracy": accuracy})
        return recorded


def segments(steps: np.ndarray, sources: np.ndarray) -> list[tuple[int, int, int]]:
    """Runs of equal source: (first step, last step, source), oldest first."""
    if not steps.size:
        return []
    cuts = np.flatnonzero(np.diff(sources)) + 1
    starts, ends = np.concatenate([[0], cuts]), np.concatenate([cuts, [steps.size]]) - 1
    return [(int(steps[a]), int(steps[b]), int(sources[a])) for a, b in zip(starts, ends, strict=True)]
