"""Atomic file writes: a reader never sees a half-written result or checkpoint.

While a run owns a results folder (:mod:`synapse_sim.folder`), every atomic write into it
passes its guard first, so that nothing the run did not write is ever replaced.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

_GUARDS: dict[Path, object] = {}


@contextlib.contextmanager
def guarded(folder, guard):
    """Route atomic writes into ``folder`` through ``guard.before_write`` / ``guard.after_write``."""
    key = Path(folder).resolve()
    _GUARDS[key] = guard
    try:
        yield guard
    finally:
        _GUARDS.pop(key, None)


def atomic_write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    guard = _GUARDS.get(path.parent.resolve()) if _GUARDS else None
    if guard is not None:
        guard.before_write(path, data)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if guard is not None:
        guard.after_write(path, data)
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def atomic_write_json(path, obj) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable))


def atomic_savez(path, **arrays) -> Path:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return atomic_write_bytes(path, buffer.getvalue())


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
