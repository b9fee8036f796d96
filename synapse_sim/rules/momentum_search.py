"""Momentum search: issue 18's parametric rule family, of which keep-or-revert is one member.

Each synapse keeps its step Delta = +-1 (its own Rademacher draw per step) and a velocity v.
It proposes ``o = c_t Delta + beta v`` (``c_t = c / (1 + decay t)``); the network is evaluated
once, at w + o; the broadcast is ``b = L(w + o) - L_ref``, the change of the loss against the
kept network's on the same minibatch (a counted reference pass after each redraw). A synapse reads
the sign of b (``broadcast = "bit"``, one bit) or b itself (``"real"``, one real scalar):

* b < 0, the step is kept: ``w <- w + o`` (exactly the network evaluated), ``v <- rho_kept v + o``;
* otherwise it is dropped: ``w`` stays, ``v <- rho_dropped v - eta (b / c) Delta`` under ``"real"``
  (the finite-difference slope along Delta) or ``v <- rho_dropped v - eta c_t Delta`` under ``"bit"``.

theta = (c, decay, beta, rho_kept, rho_dropped, eta): ``learn-rule`` meta-learns it; keep-or-revert
is theta = (a, 0, 0, 0, 0, 0). One loss evaluation per step.
"""

from __future__ import annotations

import numpy as np

from ..scenario import MAX_SCALE, Field, step_field
from .base import Change, MemoryField, RuleContext, scalar
from .keep_or_revert import StepSearch
from .registry import register_rule

SECTIONS = {
    "momentum_search": {
        "c": step_field(0.002, "c: the size of each synapse's random step", "c"),
        "decay": Field("float", 0.0, "the random step shrinks as c_t = c / (1 + decay t)", low=0.0, high=1.0),
        "beta": Field("float", 0.0, "beta: how much of the velocity the proposal adds", low=-10.0, high=10.0),
        "rho_kept": Field("float", 0.0, "rho_kept: the velocity's decay after a kept step", low=0.0, high=1.0),
        "rho_dropped": Field("float", 0.0, "rho_dropped: the velocity's decay after a dropped step", low=0.0, high=1.0),
        "eta": Field(
            "float", 0.0, "eta: how far a dropped step turns the velocity away from Delta", low=0.0, high=MAX_SCALE
        ),
        "broadcast": Field(
            "str", "bit", "what a synapse hears: 'bit' (the sign of b) or 'real' (b itself)", choices=("bit", "real")
        ),
    }
}


@register_rule
class MomentumSearch(StepSearch):
    """Random search with a per-synapse velocity; the step is kept when the loss fell (module docstring).

    Args:
        c: step size of the random part.
        decay: c_t = c / (1 + decay t).
        beta: weight of the velocity in the proposal.
        rho_kept, rho_dropped: decay of the velocity after a kept / dropped step.
        eta: the velocity's turn away from a dropped step's Delta.
        broadcast: ``"bit"`` (the synapses hear the sign of b) or ``"real"`` (b).
    """

    name = "momentum_search"
    summary = "random search with a velocity per synapse: one pass at w + c Delta + beta v, kept if the loss fell"
    sections = SECTIONS
    broadcast_label = "b = L(w + o) - L_ref"

    def __init__(self, c=0.002, decay=0.0, beta=0.0, rho_kept=0.0, rho_dropped=0.0, eta=0.0, broadcast="bit"):
        self.c, self.decay, self.beta, self.eta = c, decay, beta, eta
        self.rho_kept, self.rho_dropped = rho_kept, rho_dropped
        self.broadcast_kind = broadcast
        self.reference_loss = np.nan

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> MomentumSearch:
        return cls(**scenario["momentum_search"])

    def params(self) -> dict:
        return {
            "c": self.c,
            "decay": self.decay,
            "beta": self.beta,
            "rho_kept": self.rho_kept,
            "rho_dropped": self.rho_dropped,
            "eta": self.eta,
            "broadcast": self.broadcast_kind,
        }

    def step_size(self, step: int) -> float:
        """c_t = c / (1 + decay t), t counting steps from 0."""
        return float(self.c / (1.0 + self.decay * (step - 1)))

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return (
            MemoryField("perturbation", "int8", values=(-1, 1)),
            MemoryField("velocity", getattr(self, "dtype", np.dtype(np.float64)).name, scale=0.01),
        )

    def _proposal(self, step: int, delta, velocity):
        return scalar(self.dtype, self.step_size(step)) * delta + scalar(self.dtype, self.beta) * velocity

    def _propose(self, ctx: RuleContext, delta) -> Change:
        proposal = self._proposal(ctx.step, delta, ctx.memory["velocity"])
        return Change(memory={"perturbation": delta}, offsets=(proposal,))

    def propose_local(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, np.int8(ctx.draws["perturbation"]))

    def propose_batch(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, ctx.draws["perturbation"])

    def broadcast(self, evaluations, step: int) -> float:
        (tried,) = evaluations
        change = tried.loss - self.reference_loss
        self.accept(tried.loss)
        return float(np.sign(change)) if self.broadcast_kind == "bit" else float(change)

    def sample_broadcast(self, rng, n_examples: int = 8) -> float:
        b = float(rng.standard_normal())
        return float(np.sign(b)) if self.broadcast_kind == "bit" else b

    def _update(self, ctx: RuleContext) -> Change:
        delta, velocity = ctx.memory["perturbation"], ctx.memory["velocity"]
        if ctx.broadcast < 0:
            step = self._proposal(ctx.step, delta, velocity)
            return Change(dw=step, memory={"velocity": scalar(self.dtype, self.rho_kept) * velocity + step})
        c_t = self.step_size(ctx.step)
        turn = ctx.broadcast / c_t if self.broadcast_kind == "real" else c_t
        turned = scalar(self.dtype, self.eta * turn) * delta
        return Change(memory={"velocity": scalar(self.dtype, self.rho_dropped) * velocity - turned})

    update_local = _update
    update_batch = _update
