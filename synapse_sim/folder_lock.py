"""``run.lock``: one run at a time writes into a results folder.

The lock is held with ``flock``, so the kernel releases it when the process dies however it dies; a
lock file nobody holds (left by ``kill -9`` or a power cut) is stale and taken over, and its holder
is kept for the message. Where there is no ``flock`` (Windows) an exclusive create with a liveness
check of the recorded PID stands in.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
import sys
from pathlib import Path

from .errors import RunError

LOCK = "run.lock"


def holder_text(holder: dict | None) -> str:
    if not holder:
        return "a run whose PID is unknown"
    return f"PID {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}"


class FolderLock:
    """``run.lock``, held with ``flock`` while a run writes into the folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK
        self.fd = None
        self.stale: dict | None = None  # the holder recorded in a lock file nobody held any more

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): an exclusive create, with a liveness check of the PID
            return self._acquire_exclusive()
        for _ in range(20):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunError(self._in_use(holder)) from None
            try:  # the file we locked may have been unlinked by a run finishing meanwhile
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            self.stale = _read_holder(fd)
            self.fd = fd
            self._write_holder()
            return self
        raise RunError(f"could not lock {self.path}: other processes keep replacing it")

    def _acquire_exclusive(self) -> FolderLock:
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with contextlib.suppress(OSError), open(self.path, "rb") as handle:
                    holder = _parse_holder(handle.read())
                if holder and _alive(holder):
                    raise RunError(self._in_use(holder)) from None
                self.stale = holder or {}
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)
                continue
            self.fd = fd
            self._write_holder()
            return self
        raise RunError(f"could not lock {self.path}")

    def _in_use(self, holder) -> str:
        return (
            f"results folder {self.folder} is in use by another run ({holder_text(holder)}); two runs never write "
            f"into one folder: wait for that run to finish (or stop it), or write elsewhere (--out)"
        )

    def _write_holder(self) -> None:
        holder = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)[:300],
        }
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.write(self.fd, json.dumps(holder).encode())
        os.fsync(self.fd)

    def release(self) -> None:
        if self.fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self.fd)
        self.fd = None


def _read_holder(fd) -> dict | None:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return _parse_holder(os.read(fd, 4096))
    except OSError:
        return None


def _parse_holder(raw: bytes) -> dict | None:
    if not raw.strip():
        return None
    try:
        holder = json.loads(raw)
    except ValueError:
        return {"pid": "?", "host": "?", "started": "?"}
    return holder if isinstance(holder, dict) else None


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # another machine's run: cannot be checked, so it is not stale
    try:
        os.kill(int(holder["pid"]), 0)
    except (ProcessLookupError, ValueError, TypeError, KeyError):
        return False
    except PermissionError:
        return True
    return True
