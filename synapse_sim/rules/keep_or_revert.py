"""Keep-or-revert random search: the hand-made 1-bit rule the learned rules of issue 18 must beat.

Every synapse draws its own Rademacher step Delta = +-1 (keyed by seed, step and sid); the network
is evaluated once, at w + a Delta; one bit is broadcast, "the loss fell below the reference" (the
loss of the weights as they stand, on the same minibatch); a synapse that hears it takes its step,
otherwise it stays where it was. The reference is the kept network's loss: the tried loss after a
kept step, unchanged after a rejected one, and a reference pass (counted) when the minibatch is
redrawn. The tried weights are evaluated as ``w + a Delta`` and a kept step adds the same
``a Delta``, so the network that is kept is exactly the one that was evaluated (no undo, no rounding).
One loss evaluation per step.
"""

from __future__ import annotations

import numpy as np

from ..scenario import Field, nonzero_step
from .base import NO_CHANGE, Change, MemoryField, Pass, Rule, RuleContext, scalar
from .registry import register_rule

SECTIONS = {
    "keep_or_revert": {
        "a": Field(
            "float",
            0.002,
            "step a: every synapse tries +-a; the step is kept if the loss fell",
            low=0.0,
            check=nonzero_step("the keep-or-revert step", 0.002),
        ),
    }
}

KEPT, REVERTED = 1, -1


class StepSearch(Rule):
    """What the one-pass searches share: a Rademacher step Delta per synapse and step, one pass at the
    proposed weights, and the reference loss of the kept network (a counted pass after each redraw)."""

    needs_reference = True
    reference_loss = np.nan

    def shared_state(self) -> dict[str, np.ndarray]:
        return {"reference_loss": np.array(self.reference_loss, dtype=np.float64)}

    def load_shared_state(self, state) -> None:
        if "reference_loss" in state:
            self.reference_loss = float(state["reference_loss"])

    def draw(self, rng, n_synapses: int, step: int) -> dict[str, np.ndarray]:
        delta = rng.integers(0, 2, n_synapses, dtype=np.int8) * np.int8(2) - np.int8(1)
        return {"perturbation": delta}

    def passes(self, step: int) -> tuple[Pass, ...]:
        return (Pass(offset=0),)

    def reference(self, evaluation) -> None:
        self.reference_loss = evaluation.loss

    def accept(self, tried_loss: float) -> bool:
        """Whether the tried network beat the kept one; if so it becomes the kept one."""
        if tried_loss < self.reference_loss:
            self.reference_loss = tried_loss
            return True
        return False


@register_rule
class KeepOrRevert(StepSearch):
    """Random search with one bit per evaluation: try w + a Delta, keep it if the loss fell.

    Args:
        a: the step a each synapse tries (+a or -a, its own Rademacher draw).
    """

    name = "keep_or_revert"
    summary = "random search: every synapse tries +-a, one pass, broadcast 1 bit (kept: the loss fell)"
    sections = SECTIONS
    broadcast_label = "kept (+1) / reverted (-1)"

    def __init__(self, a=0.002):
        self.a = a
        self.reference_loss = np.nan

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> KeepOrRevert:
        return cls(**scenario["keep_or_revert"])

    def params(self) -> dict:
        return {"a": self.a}

    def step_size(self, step: int) -> float:
        return float(self.a)

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return (MemoryField("perturbation", "int8", values=(-1, 1)),)

    def _propose(self, ctx: RuleContext, delta) -> Change:
        return Change(memory={"perturbation": delta}, offsets=(scalar(self.dtype, self.a) * delta,))

    def propose_local(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, np.int8(ctx.draws["perturbation"]))

    def propose_batch(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, ctx.draws["perturbation"])

    def broadcast(self, evaluations, step: int) -> int:
        (tried,) = evaluations
        return KEPT if self.accept(tried.loss) else REVERTED

    def sample_broadcast(self, rng, n_examples: int = 8) -> int:
        return int(rng.choice([KEPT, REVERTED]))

    def _update(self, ctx: RuleContext) -> Change:
        if ctx.broadcast != KEPT:
            return NO_CHANGE
        return Change(dw=scalar(self.dtype, self.a) * ctx.memory["perturbation"])

    update_local = _update
    update_batch = _update
