"""A results folder is owned by one run: its lock, its manifest, and what the run trained on.

* ``run.lock`` exists while a run writes into the folder. It is held with ``flock``, so the
  kernel releases it when the process dies however it dies; a lock file that nobody holds
  (left by ``kill -9`` or a power cut) is reported as stale and taken over. A second run into
  a locked folder is refused with the PID of the run that holds it.
* ``manifest.json`` lists every file the run wrote, with its SHA-256, and what the run was
  made of: the resolved scenario as written, the data it trained on (path, size, content
  hash, split), the policy file it started from, the BLAS thread count. A run replaces a file
  only if the manifest says the run wrote it and its content is still what the run wrote;
  anything else (a user's file, an input, a hand-edited file) is refused before the run starts.
  Before each write the manifest records the hash about to be written (``pending``), so a
  process killed between the two writes leaves a folder that still resumes.
* File names in the manifest are relative: a copied folder resumes like the original.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from .errors import RunError
from .folder_lock import LOCK, FolderLock, holder_text
from .io import atomic_write_bytes, guarded

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "synapse_sim.results"
CHECKPOINT = "checkpoint.npz"
SUMMARY = "summary.json"
SCENARIO = "scenario.toml"
# every file a run may write besides its rule's own outputs (``rule.output_files``)
RESULT_FILES = (SCENARIO, CHECKPOINT, SUMMARY, "history.npz", "rule.json", "curves.png", "figure.png", "weights.npz")
TOML_INT_LIMIT = 2**63


def note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def sha256(*chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arrays_sha256(*arrays) -> str:
    """One hash over arrays: dtype, shape and bytes of each (so a reshaped or retyped array differs)."""
    digest = hashlib.sha256()
    for item in arrays:
        array = np.ascontiguousarray(item)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def npz_error(exc: Exception) -> str:
    """What went wrong reading an .npz, in words (NumPy reads a file that is no archive as a pickle)."""
    if isinstance(exc, ValueError) and "pickled" in str(exc):
        return "not a NumPy .npz archive"
    if isinstance(exc, KeyError):
        return f"it lacks the array {exc}"
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------------------- manifest
class Manifest:
    """``manifest.json``: the files this folder's run wrote (name -> sha256) and what it was made of."""

    def __init__(self, folder: Path, data: dict):
        self.folder = Path(folder)
        self.data = data

    @classmethod
    def new(cls, folder) -> Manifest:
        return cls(
            folder,
            {
                "format": MANIFEST_FORMAT,
                "version": 1,
                "created": datetime.datetime.now().isoformat(timespec="seconds"),
                "synapse_sim": __version__,
                "scenario": None,
                "inputs": {},
                "blas_threads": None,
                "files": {},
            },
        )

    @classmethod
    def read(cls, folder) -> Manifest | None:
        path = Path(folder) / MANIFEST
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
                raise ValueError(f"'format' is not {MANIFEST_FORMAT!r}")
            if not isinstance(data.get("files"), dict):
                raise ValueError("no 'files' table")
        except (ValueError, UnicodeDecodeError) as exc:
            raise RunError(
                f"{path} is not a synapse_sim manifest ({exc}): this folder was not written by synapse_sim, or its "
                "manifest was damaged, so nothing in it can be replaced or resumed; write elsewhere (--out)"
            ) from None
        return cls(folder, data)

    @property
    def files(self) -> dict:
        return self.data["files"]

    def owns(self, name: str) -> bool:
        """The file exists and holds what this run wrote (or was about to write when it stopped)."""
        path = self.folder / name
        entry = self.files.get(name)
        if entry is None or not path.is_file():
            return False
        return file_sha256(path) in (entry.get("sha256"), entry.get("pending"))

    def save(self) -> None:
        atomic_write_bytes(self.folder / MANIFEST, json.dumps(self.data, indent=1).encode())


# ------------------------------------------------------------------------------------ the folder
@dataclass
class FolderState:
    """What a folder holds, read from its files; :meth:`advice` says what can be done with it."""

    path: Path
    holds_run: bool = False
    manifest: Manifest | None = None
    status: str | None = None
    summary_steps: int | None = None
    method: str | None = None
    checkpoint_step: int | None = None
    checkpoint_error: str | None = None

    @property
    def failed(self) -> bool:
        return bool(self.status and self.status.startswith("failed"))

    @property
    def completed(self) -> bool:
        """The summary says completed and no later session has checkpointed past it (then killed)."""
        later = self.checkpoint_step is not None and self.checkpoint_step != self.summary_steps
        return self.status == "completed" and not later

    def what(self) -> str:
        if self.checkpoint_error:
            return f"its checkpoint is corrupt or unreadable: {self.checkpoint_error}"
        if self.failed:
            where = f"last checkpoint at step {self.checkpoint_step}" if self.checkpoint_step else "no checkpoint"
            return f"{self.status}; {where}"
        if self.completed:
            return f"completed, {self.summary_steps} steps"
        if self.checkpoint_step is not None:
            return f"interrupted, last checkpoint at step {self.checkpoint_step}"
        return "stopped before its first checkpoint"

    def resumable(self) -> bool:
        if self.method == "gradient_descent" or self.checkpoint_error:
            return False
        if self.checkpoint_step is not None:
            return True
        return self.manifest is not None and not self.failed  # started, never checkpointed: resumes from step 0

    def advice(self) -> str:
        start_over = f"delete the folder (rm -r {self.path}) or write elsewhere (--out)"
        p = self.path
        if self.method == "gradient_descent":
            return f"a gradient-descent baseline keeps no checkpoint and cannot be continued: {start_over}"
        if self.checkpoint_error:
            return f"it cannot be resumed; to start over, {start_over}"
        if self.failed:
            if self.checkpoint_step is not None:
                return (
                    f"resuming would repeat the same steps from step {self.checkpoint_step} and fail the same way; "
                    f"to try other settings, {start_over}"
                )
            return f"there is nothing to resume; to try other settings, {start_over}"
        if self.completed and self.checkpoint_step is not None:
            return f"extend it with --resume {p} --set run.iterations=N, or write elsewhere (--out)"
        if self.checkpoint_step is not None:
            return f"continue it with --resume {p}, or write elsewhere (--out)"
        if self.resumable():
            return f"--resume {p} runs it again from step 0, or write elsewhere (--out)"
        return f"it has no checkpoint, so there is nothing to resume: {start_over}"


def folder_state(path) -> FolderState:
    """Read what ``path`` holds without changing anything."""
    path = Path(path)
    state = FolderState(path)
    state.manifest = Manifest.read(path)
    summary = path / SUMMARY
    if summary.is_file():
        try:
            data = json.loads(summary.read_text())
            state.status = str(data.get("status"))
            state.summary_steps = data.get("steps")
            state.method = data.get("method")
        except (ValueError, UnicodeDecodeError, AttributeError):
            state.status = "unknown (summary.json is unreadable)"
    checkpoint = path / CHECKPOINT
    if checkpoint.exists():
        try:
            with np.load(checkpoint, allow_pickle=False) as data:
                state.checkpoint_step = int(data["engine_step"])
        except Exception as exc:  # zipfile / format errors come in many types
            state.checkpoint_error = npz_error(exc)
    state.holds_run = state.manifest is not None or checkpoint.exists() or summary.is_file()
    return state


class ResultsFolder:
    """The folder a run owns while it runs: locked, every write checked against the manifest."""

    def __init__(self, path):
        self.path = Path(path)
        self.lock = FolderLock(self.path)
        self.manifest: Manifest | None = None
        self.created = False
        self._pending: dict[str, str] = {}

    @classmethod
    @contextlib.contextmanager
    def owned(cls, path, create: bool):
        """Lock ``path`` (made if ``create``) for the duration; a folder this call made and left empty goes."""
        folder = cls(path)
        p = folder.path
        if p.exists() and not p.is_dir():
            raise RunError(f"{p} is a file, not a folder: --out names the results folder a run writes into")
        if not p.exists():
            if not create:
                raise RunError(f"no folder {p}: there is no run to resume there")
            try:
                p.mkdir(parents=True)
            except OSError as exc:
                raise RunError(f"cannot make the results folder {p}: {exc}") from None
            folder.created = True
        try:
            folder.lock.acquire()
        except OSError as exc:
            raise RunError(f"cannot lock the results folder {p}: {exc}") from None
        try:
            if folder.lock.stale is not None:
                note(
                    f"{p / LOCK} was left by a run that is no longer running ({holder_text(folder.lock.stale)}); "
                    "it was stale and has been cleared"
                )
            yield folder
        finally:
            folder.lock.release()
            if folder.created:
                with contextlib.suppress(OSError):
                    p.rmdir()  # only if empty: the run failed before writing anything

    # --- before the run writes -----------------------------------------------------------------
    def check_outputs(self, names, inputs=()) -> None:
        """Refuse before anything is written if the run would replace an input or a file it did not write."""
        targets = {(self.path / name).resolve(): name for name in names}
        for key, paths in inputs:
            for path in paths:
                name = targets.get(Path(path).resolve())
                if name is not None:
                    raise RunError(
                        f"{self.path / name} is an input of this run ({key}); the run would write its results over "
                        "it: write the results elsewhere (--out), or copy the input out of the folder first"
                    )
        foreign = [
            name
            for name in names
            if (self.path / name).exists() and not (self.manifest is not None and self.manifest.owns(name))
        ]
        if foreign:
            listed = ", ".join(foreign)
            raise RunError(
                f"{self.path} holds {listed}, which this run did not write (a user's file, or one edited after the "
                "run wrote it); a run never replaces files it did not write: move them out of the folder, or "
                "write elsewhere (--out)"
            )

    def clean_stale_tmp(self, names) -> list[str]:
        """Remove ``.NAME.*.tmp`` files of ours left by a process killed while writing NAME."""
        removed = []
        for name in (*names, MANIFEST):
            for tmp in self.path.glob(f".{name}.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                    removed.append(tmp.name)
        return removed

    def adopt_legacy(self, names) -> None:
        """A folder written before manifests existed: its result files become this run's."""
        self.manifest = Manifest.new(self.path)
        for name in names:
            if (self.path / name).is_file():
                digest = file_sha256(self.path / name)
                self.manifest.files[name] = {"sha256": digest}
        note(f"{self.path} has no {MANIFEST} (written by an older synapse_sim); adopting its result files")

    # --- the io guard: every atomic write into the folder comes through here ------------------------
    @contextlib.contextmanager
    def guard(self):
        with guarded(self.path, self):
            yield self

    def before_write(self, path: Path, data: bytes) -> None:
        name = path.name
        if name in (MANIFEST, LOCK):
            return
        if path.exists() and not self.manifest.owns(name):
            raise RunError(
                f"{path} changed after this run wrote it (or was put there during the run); it is not replaced: "
                "move it out of the folder and resume"
            )
        digest = sha256(data)
        entry = self.manifest.files.setdefault(name, {})
        entry["pending"] = digest
        self._pending[name] = digest
        self.manifest.save()

    def after_write(self, path: Path, data: bytes) -> None:
        name = path.name
        if name in (MANIFEST, LOCK):
            return
        self.manifest.files[name] = {"sha256": self._pending.pop(name), "bytes": len(data)}
        self.manifest.save()
