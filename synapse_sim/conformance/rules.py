"""Conformance check for rules: do the one-synapse and all-synapses forms agree, bit for bit?

:func:`check_rule` runs every per-synapse phase (propose, update, observe) of a rule
on random contexts (random memory, the rule's own random draws, random neuron inputs
and broadcasts) in float64 and float32, comparing the batch form's result at each sid
with the local form's; then it runs the Mesa agent view and the vectorised backend side
by side on a small decision-boundary network and demands the same trajectory.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from ..rules.base import Change, Rule, RuleContext

PHASES = ("propose", "update", "observe")


@dataclass
class RuleReport:
    """What :func:`check_rule` found; ``ok`` is true when nothing is wrong."""

    rule: Rule
    n_checked: int = 0
    problems: list[str] = field(default_factory=list)
    max_problems: int = 20

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < self.max_problems:
            self.problems.append(problem)

    def __str__(self) -> str:
        head = f"{self.rule!r}: {self.n_checked} synapse phases checked, "
        if self.ok:
            return head + "local and batch agree; agent view and vectorised backend agree"
        return "\n".join([head + f"{len(self.problems)} problems", *(f"  {p}" for p in self.problems)])


def _at(value, sid: int, n: int):
    """Synapse ``sid``'s entry of a per-synapse array (shared values pass whole)."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.ndim and array.shape[0] == n:
        return array[sid]
    return value


def local_context(ctx: RuleContext, sid: int, shared: set[str]) -> RuleContext:
    """The context one synapse would see, cut from the batch context (``sid``: its position there)."""
    n = len(ctx.sid)
    return RuleContext(
        step=ctx.step,
        sid=np.int64(ctx.sid[sid]),
        weight=ctx.weight[sid],
        is_bias=np.bool_(ctx.is_bias[sid]),
        memory={k: (v.copy() if k in shared else v[sid]) for k, v in ctx.memory.items()},
        draws={k: v[sid] for k, v in ctx.draws.items()},
        broadcast=ctx.broadcast,
        pre_activity=_at(ctx.pre_activity, sid, n),
        post_activity=_at(ctx.post_activity, sid, n),
        coincidence=_at(ctx.coincidence, sid, n),
    )


def _equal(a, b, dtype=None) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if dtype is not None:
        a, b = a.astype(dtype), b.astype(dtype)
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def compare_phase(rule: Rule, phase: str, ctx: RuleContext, source: str, report: RuleReport) -> None:
    fields = {f.name: f for f in rule.memory_fields()}
    shared = {k for k, f in fields.items() if f.shared}
    try:
        batch: Change = getattr(rule, f"{phase}_batch")(ctx)
    except Exception as exc:  # a user's rule may fail in any way; report it
        report.add(f"[{source}] {phase}_batch raised {type(exc).__name__}: {exc}")
        return
    wdtype = np.asarray(ctx.weight).dtype
    for sid in range(len(ctx.sid)):
        report.n_checked += 1
        where = f"[{source}] {phase} sid {sid}"
        try:
            local: Change = getattr(rule, f"{phase}_local")(local_context(ctx, sid, shared))
        except Exception as exc:
            report.add(f"{where}: {phase}_local raised {type(exc).__name__}: {exc}")
            return
        if (local.dw is None) != (batch.dw is None):
            report.add(f"{where}: one form changes the weight, the other does not")
        elif local.dw is not None:
            if np.result_type(np.asarray(local.dw), wdtype) != wdtype:
                report.add(f"{where}: local dw has dtype {np.asarray(local.dw).dtype}; weights are {wdtype}")
            elif not _equal(np.asarray(batch.dw)[sid] if np.ndim(batch.dw) else batch.dw, local.dw, wdtype):
                report.add(f"{where}: dw local={local.dw!r} batch={np.asarray(batch.dw)[sid]!r}")
        for name in set(local.memory) | set(batch.memory):
            if name not in fields:
                report.add(f"{where}: memory field {name!r} is not declared in memory_fields()")
                continue
            if name not in local.memory or name not in batch.memory:
                report.add(f"{where}: memory field {name!r} set by one form only")
                continue
            b = batch.memory[name] if name in shared else np.asarray(batch.memory[name])[sid]
            if not _equal(b, local.memory[name], fields[name].dtype):
                report.add(f"{where}: memory {name!r} local={local.memory[name]!r} batch={b!r}")
        if len(local.offsets) != len(batch.offsets):
            report.add(f"{where}: {len(local.offsets)} offsets locally, {len(batch.offsets)} in batch")
        for k, (lo, bo) in enumerate(zip(local.offsets, batch.offsets, strict=False)):
            if not _equal(np.asarray(bo)[sid], lo, wdtype):
                report.add(f"{where}: offset {k} local={lo!r} batch={np.asarray(bo)[sid]!r}")
        for name in set(local.report) | set(batch.report):
            if name not in local.report or name not in batch.report:
                report.add(f"{where}: report {name!r} made by one form only")
            elif not _equal(np.asarray(batch.report[name])[sid], local.report[name]):
                report.add(f"{where}: report {name!r} local={local.report[name]!r} batch={batch.report[name][sid]!r}")


def random_context(rule: Rule, n: int, rng: np.random.Generator, step: int, phase: str, dtype) -> RuleContext:
    """Random memory, the rule's own draws, random neuron inputs and broadcast."""
    topology = rule.topology
    sids = rng.integers(0, topology.n_synapses, n)  # real synapses (a rule may read its place in the network)
    is_bias = topology.is_bias[sids]
    memory = {f.name: f.sample(rng, n) for f in rule.memory_fields()}
    return RuleContext(
        step=step,
        sid=sids,
        weight=(rng.standard_normal(n) * 0.5).astype(dtype),
        is_bias=is_bias,
        memory=memory,
        draws=rule.draw(rng, n, step) if phase == "propose" else {},
        broadcast=rule.sample_broadcast(rng) if phase == "update" else None,
        pre_activity=rng.standard_normal(n).astype(dtype),
        post_activity=rng.standard_normal(n).astype(dtype),
        coincidence=(rng.standard_normal(n) * 0.1).astype(dtype),
    )


def check_rule(rule: Rule, n_random: int = 200, seed: int = 0, mirror_steps: int = 12) -> RuleReport:
    """Check that ``rule``'s local and batch forms agree on random contexts, and that the agent
    view and the vectorised backend run it to the same trajectory on a 2-6-1 boundary (a rule
    that needs classes: 4-6-3 blobs; one that needs episodes: 4-6-2 CartPole-v1).

    ``rule`` is a rule instance (its parameters are used as given). Returns a
    :class:`RuleReport`: ``report.ok`` is the verdict, ``str(report)`` lists each disagreement.
    """
    from ..engine.topology import Topology

    report = RuleReport(rule)
    rng = np.random.default_rng(seed)
    for dtype in (np.float64, np.float32):
        probe = copy.deepcopy(rule).bind(Topology.from_layers([3, 4, 2]), dtype)
        probe.begin_step(1)
        for phase in PHASES:
            for step in (1, 7):
                ctx = random_context(probe, n_random, rng, step, phase, dtype)
                compare_phase(probe, phase, ctx, f"random {np.dtype(dtype).name} step {step}", report)
    if mirror_steps:
        _check_mirror(rule, mirror_steps, seed, report)
    return report


def _check_mirror(rule: Rule, steps: int, seed: int, report: RuleReport) -> None:
    from ..engine.vector import VectorEngine
    from ..model import SynapseModel
    from ..scenario import Scenario

    for k, (activation, dtype) in enumerate((("tanh", "float64"), ("relu", "float32"))):
        layers = [4, 6, 3] if rule.needs_classes else [4, 6, 2] if rule.needs_episodes else [2, 6, 1]
        control = {"task.name": "control", "control.env": "CartPole-v1"} if rule.needs_episodes else {}
        scenario = Scenario().with_overrides(
            {
                "layers": layers,
                "n_points": 100,
                "run.seed": seed + k,
                "hidden_activation": activation,
                "dtype": dtype,
                **control,
            }
        )
        try:
            task = mirror_task(seed + k, activation, dtype) if rule.needs_classes else None
            vector = VectorEngine(scenario, task=task, rule=copy.deepcopy(rule))
            task = mirror_task(seed + k, activation, dtype) if rule.needs_classes else None
            agents = SynapseModel(scenario, task=task, rule=copy.deepcopy(rule), rng=seed)
            for _ in range(steps):
                a, _ = vector.step(), agents.step()
                b = agents.last_result
                if (a.loss, a.reward, a.accuracy) != (b.loss, b.reward, b.accuracy):
                    report.add(f"[mirror {activation}/{dtype}] step {a.step}: vector {a} != agents {b}")
                    return
            va, ma = vector.checkpoint(), agents.checkpoint()
            for key in va:
                if va[key].dtype != ma[key].dtype or not np.array_equal(va[key], ma[key]):
                    report.add(f"[mirror {activation}/{dtype}] after {steps} steps: {key!r} differs")
        except Exception as exc:  # any failure of a user's rule in an engine is a finding
            report.add(f"[mirror {activation}/{dtype}] {type(exc).__name__}: {exc}")


def mirror_task(seed: int, activation: str, dtype):
    """A small 4-input, 3-class classification task (three Gaussian blobs) for rules that need classes."""
    import functools

    from ..randomness import STREAM_BATCH, STREAM_DATA, generator
    from ..tasks import ClassificationTask

    rng = generator(seed, STREAM_DATA)
    labels = rng.integers(0, 3, 120)
    x = np.eye(3, 4)[labels] * 2.0 + rng.normal(scale=0.7, size=(120, 4))
    return ClassificationTask(
        x[:90],
        labels[:90],
        x[90:],
        labels[90:],
        functools.partial(generator, seed, STREAM_BATCH),
        batch_size=30,
        batch_interval=2,
        hidden_activation=activation,
        dtype=np.dtype(dtype),
    )
