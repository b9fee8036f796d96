"""Refuse early what cannot fit: a scenario's memory, estimated before anything is allocated.

A network of 50 million hidden units would otherwise allocate gigabytes and die with NumPy's
MemoryError deep in the first forward pass. The estimate is coarse but on the safe side; its
constants were measured with tracemalloc on 2-200000-1 and 2-2000-1 networks for every rule:
about 120-170 bytes per synapse in the vectorised backend (weights, their perturbed copies,
the rule's memory, the per-step draws), about 1,800 in the Mesa agent view (one Python object
per synapse), and up to 5 batch-by-width arrays live at once in a forward pass with noise.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

from ..scenario import Scenario, ScenarioError

BYTES_PER_SYNAPSE = {"vector": 200, "agent": 2500}
LIVE_ACTIVATION_ARRAYS = 6
HISTORY_BYTES_PER_ITERATION = 64  # records.History: 8 float64 series preallocated for run.iterations
HEADROOM = 0.9


@dataclass(frozen=True)
class Footprint:
    synapses: int
    neurons: int
    batch: int
    synapse_bytes: int
    activation_bytes: int
    history_bytes: int = 0

    @property
    def total(self) -> int:
        return self.synapse_bytes + self.activation_bytes + self.history_bytes


def human(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n_bytes) < 1000 or unit == "TB":
            return f"{n_bytes:,.0f} {unit}" if unit == "B" else f"{n_bytes:,.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError


def estimate(scenario: Scenario, view: str = "vector") -> Footprint:
    """The memory a run of ``scenario`` needs in ``view`` (``"vector"`` or ``"agent"``), from its keys alone."""
    layers = [int(n) for n in scenario["network"]["layers"]]
    synapses = sum((a + 1) * b for a, b in itertools.pairwise(layers))
    task = scenario["task"]
    batch = task["n_points"] if task["name"] == "decision_boundary" else task["batch_size"]
    activation = LIVE_ACTIVATION_ARRAYS * batch * sum(layers) * 8
    history = HISTORY_BYTES_PER_ITERATION * scenario["run"]["iterations"]
    return Footprint(synapses, sum(layers), batch, BYTES_PER_SYNAPSE[view] * synapses, activation, history)


def available_memory() -> int | None:
    """Bytes this process may still allocate: the smaller of MemAvailable and the cgroup's limit left."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            used = int(Path("/sys/fs/cgroup/memory.current").read_text())
            found.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(found) if found else None


def check_fits(scenario: Scenario, view: str = "vector", available: int | None = None) -> Footprint:
    """Raise :class:`ScenarioError` with the estimate and the memory available when the run cannot fit."""
    footprint = estimate(scenario, view)
    available = available_memory() if available is None else available
    if available is not None and footprint.total > HEADROOM * available:
        batch_key = "task.n_points" if scenario["task"]["name"] == "decision_boundary" else "task.batch_size"
        raise ScenarioError(
            f"this scenario needs about {human(footprint.total)} of memory in the {view} view "
            f"({footprint.synapses:,} synapses: ~{human(footprint.synapse_bytes)}; activations for a batch of "
            f"{footprint.batch:,} through {footprint.neurons:,} neurons: ~{human(footprint.activation_bytes)}; "
            f"the per-iteration history: ~{human(footprint.history_bytes)}), "
            f"but this machine has {human(available)} available. Use fewer neurons (network.layers), a "
            f"smaller batch ({batch_key}) or fewer iterations (run.iterations)"
            + ("; or the vectorised backend (run.engine = 'vector')" if view == "agent" else "")
        )
    return footprint
