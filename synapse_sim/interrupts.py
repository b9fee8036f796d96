"""Stopping a run cleanly: SIGINT / SIGTERM become a flag the run loop checks after each step, and a
thread's runs (a study's Dask task) may be asked to stop by a callable of its own.

Either way the loop writes a checkpoint and its results before it returns, so ``--resume`` continues
exactly.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading


class Interrupted(Exception):
    """Leaves the run loop for the path that writes the checkpoint and results (its message: the reason)."""


_MAIN: dict = {"flags": [], "previous": {}}  # the main thread's runs under way (several in lockstep)


def _on_signal(signum, _frame):
    flags = _MAIN["flags"]
    for flag in flags:
        flag["signal"] = signal.Signals(signum).name
        flag["count"] += 1
    count = max((flag["count"] for flag in flags), default=0)
    if count == 2:
        print("\nsynapse-sim: saving the checkpoint and results, please wait", file=sys.stderr, flush=True)
    elif count > 2:
        raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_flag():
    """Turn SIGINT / SIGTERM into a flag the run loop checks after each step.

    The handlers stay until the final checkpoint and results are written: a second signal
    during that save is reported and waited out (the files are written atomically anyway);
    a third one stops at once. Runs in lockstep (:mod:`synapse_sim.lockstep`) share the
    handlers: a signal reaches every one of them, whichever order they end in."""
    flag = {"signal": None, "count": 0}
    if threading.current_thread() is not threading.main_thread():  # no handlers there, no interruption
        yield flag
        return
    flags, previous = _MAIN["flags"], _MAIN["previous"]
    if not flags:
        previous.update({sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)})
    flags.append(flag)
    try:
        yield flag
    finally:
        flags.remove(flag)
        if not flags:
            for sig, old in previous.items():
                signal.signal(sig, old)
            previous.clear()


_THREAD = threading.local()  # per thread: callables that may stop its runs (a study's stop event)


@contextlib.contextmanager
def stop_source(check):
    """Runs of this thread also stop, with a checkpoint, once ``check()`` returns a reason (asked at
    most once a second): a Dask task's view of its study's stop event."""
    sources = _THREAD.__dict__.setdefault("sources", [])
    sources.append(check)
    try:
        yield
    finally:
        sources.remove(check)


def stop_reason() -> str | None:
    """The first reason a stop source of this thread gives, if any."""
    return next((reason for check in getattr(_THREAD, "sources", ()) if (reason := check())), None)
