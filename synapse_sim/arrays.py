"""Where a task's tensor work runs: NumPy on the CPU (the default), or any array-API library.

``run.device`` and ``run.array_library`` choose it. A classification task then keeps its data
on that device and does each evaluation there (the minibatch's forward products and the loss,
:mod:`synapse_sim.tasks.array_api`), which is all but a sliver of a notMNIST step's arithmetic;
the synapses' rule (their memory, the policy, the random draws) stays in NumPy on the host, and
the weights travel to the device once per evaluation. ``array_api_strict`` (or torch's CPU
tensors) runs the same path on the CPU, which is how the tests check it without a GPU.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

import numpy as np

from .errors import ScenarioError

LIBRARIES = ("auto", "numpy", "torch", "cupy", "array_api_strict")
DEVICES = ("cpu", "cuda")

_INSTALL = {
    "torch": "pip install torch (a CUDA build for a GPU: see https://pytorch.org/get-started)",
    "cupy": "pip install cupy-cuda12x (or the build matching your CUDA)",
    "array_api_strict": "pip install array-api-strict",
    "array_api_compat": "pip install array-api-compat",
}


@dataclass(frozen=True)
class ArrayLibrary:
    """An array namespace ``xp`` and the device its arrays live on."""

    name: str
    xp: object
    device: object = None

    @property
    def is_numpy(self) -> bool:
        return self.name == "numpy"

    def asarray(self, a, dtype=None):
        """``a`` (a NumPy array or scalar) as an array of this library on its device."""
        if self.is_numpy:
            return np.asarray(a, dtype=dtype)
        dtype = None if dtype is None else getattr(self.xp, np.dtype(dtype).name)
        if self.device is None:
            return self.xp.asarray(np.ascontiguousarray(a), dtype=dtype)
        return self.xp.asarray(np.ascontiguousarray(a), dtype=dtype, device=self.device)

    def to_numpy(self, a) -> np.ndarray:
        """An array of this library back on the host as NumPy."""
        if self.is_numpy:
            return np.asarray(a)
        if self.name == "torch":
            return a.detach().cpu().numpy()
        if self.name == "cupy":
            return a.get()
        return np.asarray(a)


NUMPY = ArrayLibrary("numpy", np)


def _import(name: str, device: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ScenarioError(
            f"run.device = {device!r} with run.array_library = {name!r} needs the package {name!r}, which is not "
            f"installed ({exc}): {_INSTALL[name]}"
        ) from None


def _namespace(library: str, device: str):
    """The array-API namespace of ``library`` (torch and CuPy through array-api-compat)."""
    _import(library, device)
    if library == "array_api_strict":
        return importlib.import_module(library)
    _import("array_api_compat", device)
    return importlib.import_module(f"array_api_compat.{library}")


def _cuda_device(library: str, module) -> object:
    """The GPU of ``library``, or a clear error when it sees none."""
    if library == "torch":
        if not module.cuda.is_available():
            raise ScenarioError(
                f"run.device = 'cuda': torch {module.__version__} is installed but sees no CUDA device "
                "(torch.cuda.is_available() is False; a CPU-only build, or no NVIDIA GPU and driver here): run on a "
                "machine with a GPU and a CUDA build of torch, or set run.device = 'cpu'"
            )
        return module.device("cuda")
    try:
        count = module.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CuPy raises its own CUDARuntimeError without a driver
        count, why = 0, f" ({exc})"
    else:
        why = ""
    if count < 1:
        raise ScenarioError(
            f"run.device = 'cuda': CuPy is installed but sees no CUDA device{why}: run on a machine with an NVIDIA "
            "GPU and driver, or set run.device = 'cpu'"
        )
    return module.cuda.Device(0)


def array_library(device: str = "cpu", library: str = "auto") -> ArrayLibrary:
    """The library and device that ``run.device`` / ``run.array_library`` name, or a clear error."""
    if device not in DEVICES:
        raise ScenarioError(f"run.device = {device!r} is not one of {', '.join(DEVICES)}")
    if library not in LIBRARIES:
        raise ScenarioError(f"run.array_library = {library!r} is not one of {', '.join(LIBRARIES)}")
    if library == "auto":
        if device == "cpu":
            return NUMPY
        library = next((name for name in ("torch", "cupy") if importlib.util.find_spec(name)), None)
        if library is None:
            raise ScenarioError(
                "run.device = 'cuda' needs a GPU array library, and neither torch nor CuPy is installed: "
                f"{_INSTALL['torch']}, or {_INSTALL['cupy']}"
            )
    if library == "numpy":
        if device != "cpu":
            raise ScenarioError("run.array_library = 'numpy' runs on the CPU only: set run.device = 'cpu'")
        return NUMPY
    if library in ("array_api_strict", "cupy") and device != ("cpu" if library == "array_api_strict" else "cuda"):
        where = "the CPU" if library == "array_api_strict" else "a GPU"
        raise ScenarioError(f"run.array_library = {library!r} runs on {where} only: set run.device accordingly")
    if device == "cpu":
        return ArrayLibrary(library, _namespace(library, device), "cpu" if library == "torch" else None)
    gpu = _cuda_device(library, _import(library, device))
    return ArrayLibrary(library, _namespace(library, device), gpu)


def scenario_array_library(scenario) -> ArrayLibrary:
    """The array library a scenario's ``[run]`` names."""
    run = scenario["run"]
    return array_library(run["device"], run["array_library"])
