"""Several runs in lockstep, in one thread: each run's own loop, unchanged, parks where it asks
for work that is cheaper done together (a control run's episode), and the work of every
parked run is then done at once.

:func:`together` runs each callable in a greenlet (a coroutine with its own stack, so the
run loop, the checkpoints and the results folder stay as they are for a single run). A run
calls :func:`gather` with a batch function, a key and its item: outside :func:`together` the
batch function runs on that one item; inside, the run parks until every run still going is
parked or done, and then each group of items sharing (batch function, key) goes to its batch
function in one call, in the order the runs were given. What a run computes never depends on
the others (the batch functions guarantee it: tests/test_lockstep.py), so K runs in lockstep
give the results of the K runs alone, bit for bit; only wall time is shared.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import greenlet

_HUBS: dict[Any, greenlet.greenlet] = {}  # a run's greenlet -> the hub greenlet that drives it
_SHARED: dict[Any, dict] = {}  # a hub -> what its runs share (:func:`shared`)


@dataclass(frozen=True)
class _Parked:
    batch: Callable[[list], list]
    key: Hashable
    item: Any


_START = object()


def gather(batch: Callable[[list], list], key: Hashable, item):
    """``batch([item])[0]``, done together with the items other runs in lockstep gather under the
    same ``batch`` and ``key``. ``batch`` returns one outcome per item, an exception to raise in
    that item's run or its result."""
    current = greenlet.getcurrent()
    hub = _HUBS.get(current)
    outcome = batch([item])[0] if hub is None else hub.switch(_Parked(batch, key, item))
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def shared(key: Hashable, make: Callable[[], Any]):
    """``make()``, once for all runs in lockstep that ask under ``key`` (a task they step on
    together: one instance, so their work on it batches); outside :func:`together`, ``make()``."""
    hub = _HUBS.get(greenlet.getcurrent())
    if hub is None:
        return make()
    cache = _SHARED.setdefault(hub, {})
    if key not in cache:
        cache[key] = make()
    return cache[key]


def together(calls: Sequence[Callable[[], Any]]) -> list:
    """Run ``calls`` in lockstep; per call its return value or the exception it raised."""
    runs = [greenlet.greenlet(call) for call in calls]
    hub = greenlet.getcurrent()
    outcomes: list = [None] * len(runs)
    sends: dict[int, Any] = dict.fromkeys(range(len(runs)), _START)
    for run in runs:
        _HUBS[run] = hub
    try:
        while sends:
            parked: dict[tuple, list[tuple[int, Any]]] = {}
            for index, value in list(sends.items()):
                run = runs[index]
                try:
                    out = run.switch() if value is _START else run.switch(value)
                except BaseException as exc:  # the run's own error is its outcome
                    outcomes[index] = exc
                    del sends[index]
                    continue
                if run.dead:
                    outcomes[index] = out
                    del sends[index]
                else:
                    parked.setdefault((out.batch, out.key), []).append((index, out.item))
            for (batch, _key), members in parked.items():
                try:
                    results = batch([item for _, item in members])
                except BaseException as exc:  # it reaches every run of the group
                    results = [exc] * len(members)
                for (index, _), result in zip(members, results, strict=True):
                    sends[index] = result
    finally:
        _SHARED.pop(hub, None)
        for run in runs:
            _HUBS.pop(run, None)
            if not run.dead:
                run.throw(greenlet.GreenletExit)
    return outcomes
