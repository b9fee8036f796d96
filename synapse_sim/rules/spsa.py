"""Weight perturbation by simultaneous perturbation (SPSA; Spall 1992) as a synapse-local rule.

Every synapse draws its own Rademacher perturbation Delta = +-1 (keyed by seed, step
and sid); the network is evaluated at w + c_t Delta and at w - c_t Delta on the same
minibatch; one real number is broadcast, g = (L+ - L-) / (2 c_t); and each synapse
steps against it, w <- w - a_t g Delta. Two loss evaluations per step.
"""

from __future__ import annotations

import numpy as np

from ..scenario import MAX_SCALE, Field, step_field
from .base import Change, MemoryField, Pass, Rule, RuleContext, scalar, scheduled
from .registry import register_rule

SECTIONS = {
    "spsa": {
        "a": step_field(
            0.002, "SPSA step a (a_t = a, or a / (t + 1 + A)^0.602 with the standard schedule)", "the SPSA step"
        ),
        "a_schedule": Field(
            "schedule", [], "[[iteration, a], ...]: the step a from that iteration on (a step cut, as Q-AGREL's)"
        ),
        "c": Field(
            "float", 0.001, "SPSA perturbation size c (c_t = c, or c / (t + 1)^0.101)", low=1e-12, high=MAX_SCALE
        ),
        "schedule": Field(
            "str",
            "constant",
            "gain schedule: 'constant' (a_t = a, c_t = c) or Spall's 'standard' decay",
            choices=("constant", "standard"),
        ),
        "stability": Field("float", 0.0, "Spall's stability constant A of the standard schedule", low=0.0),
        "broadcast": Field(
            "str",
            "real",
            "what is broadcast: 'real' (g = (L+ - L-) / 2c_t) or 'sign' (sign-SPSA: the sign of L+ - L-, one bit)",
            choices=("real", "sign"),
        ),
    }
}


@register_rule
class SPSA(Rule):
    """Simultaneous-perturbation weight perturbation; broadcast: the scaled loss difference.

    Args:
        a: step size a (Spall's a).
        a_schedule: ``[[iteration, a], ...]``: a replaced from that iteration on (under either schedule).
        c: perturbation size c (Spall's c).
        schedule: ``"constant"`` or ``"standard"`` (a_t = a/(t + 1 + A)^0.602, c_t = c/(t + 1)^0.101).
        stability: A of the standard schedule.
        broadcast: ``"real"`` (g) or ``"sign"`` (its sign: one bit per two evaluations, w <- w - a_t sign(g) Delta).
    """

    name = "spsa"
    summary = "weight perturbation: +-c per synapse, two passes, broadcast (L+ - L-) / 2c (a real number)"
    sections = SECTIONS
    broadcast_label = "g = (L+ - L-) / 2c"

    def __init__(self, a=0.002, c=0.001, schedule="constant", stability=0.0, broadcast="real", a_schedule=()):
        self.broadcast_kind = broadcast
        self.a = a
        self.a_schedule = [list(x) for x in a_schedule]
        self.c = c
        self.schedule = schedule
        self.stability = stability

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> SPSA:
        return cls(**scenario["spsa"])

    def params(self) -> dict:
        return {
            "a": self.a,
            "a_schedule": self.a_schedule,
            "c": self.c,
            "schedule": self.schedule,
            "stability": self.stability,
            "broadcast": self.broadcast_kind,
        }

    def gains(self, step: int) -> tuple[float, float]:
        """(a_t, c_t) at ``step`` (t = step - 1 counts from 0, as in Spall's schedule)."""
        a = scheduled(self.a, self.a_schedule, step)
        if self.schedule == "standard":
            t = step - 1
            return a / (t + 1 + self.stability) ** 0.602, self.c / (t + 1) ** 0.101
        return float(a), float(self.c)

    def step_size(self, step: int) -> float:
        return self.gains(step)[0]

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return (MemoryField("perturbation", "int8", values=(-1, 1)),)

    def draw(self, rng, n_synapses: int, step: int) -> dict[str, np.ndarray]:
        delta = rng.integers(0, 2, n_synapses, dtype=np.int8) * np.int8(2) - np.int8(1)
        return {"perturbation": delta}

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(offset=0), Pass(offset=1))

    def _propose(self, ctx: RuleContext, delta) -> Change:
        c_t = scalar(self.dtype, self.gains(ctx.step)[1])
        up = c_t * delta
        return Change(memory={"perturbation": delta}, offsets=(up, -up))

    def propose_local(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, np.int8(ctx.draws["perturbation"]))

    def propose_batch(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, ctx.draws["perturbation"])

    def broadcast(self, evaluations, step: int) -> float:
        plus, minus = evaluations
        if self.broadcast_kind == "sign":
            return float(np.sign(plus.loss - minus.loss))
        return (plus.loss - minus.loss) / (2.0 * self.gains(step)[1])

    def _update(self, ctx: RuleContext) -> Change:
        step = scalar(self.dtype, -self.gains(ctx.step)[0] * ctx.broadcast)
        return Change(dw=step * ctx.memory["perturbation"])

    update_local = _update
    update_batch = _update
