"""Keep-or-revert random search: the hand-made 1-bit rule the learned rules of issue 18 must beat.

Every synapse draws its own Rademacher step Delta = +-1 (keyed by seed, step and sid); the network
is evaluated once, at w + a Delta; one bit is broadcast, "the loss fell below the reference" (the
loss of the weights as they stand, on the same minibatch); a synapse that hears it takes its step,
otherwise it stays where it was. The reference is the kept network's loss: the tried loss after a
kept step, unchanged after a rejected one, and a reference pass (counted) when the minibatch is
redrawn. The tried weights are evaluated as ``w + a Delta`` and a kept step adds the same
``a Delta``, so the network that is kept is exactly the one that was evaluated (no undo, no rounding).
One loss evaluation per step. With ``adapt_rate`` k > 0 the step follows Rechenberg's 1/5 success
rule in its smooth form (Kern et al. 2004): after each step a <- a exp(k (s - p)), s = 1 if kept,
p = ``target_success``, so a grows while more than p of the steps are kept and shrinks otherwise.
Every synapse hears the same bit, so each can keep the same a: the rule stays local.
"""

from __future__ import annotations

import numpy as np

from ..scenario import Field, step_field
from .base import NO_CHANGE, Change, MemoryField, Pass, Rule, RuleContext, scalar
from .registry import register_rule

SECTIONS = {
    "keep_or_revert": {
        "a": step_field(
            0.002, "step a: every synapse tries +-a; the step is kept if the loss fell", "the keep-or-revert step"
        ),
        "adapt_rate": Field(
            "float",
            0.0,
            "k of the 1/5 success rule a <- a exp(k (kept - target_success)); 0: a constant step "
            "(5/12: Auger and Hansen's exp(1/3) per success)",
            low=0.0,
            high=10.0,
        ),
        "target_success": Field(
            "float",
            0.2,
            "p of the 1/5 success rule: the share of kept steps the adapted a settles at",
            low=0.01,
            high=0.99,
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
        a: the step a each synapse tries (+a or -a, its own Rademacher draw); the start of an adapted step.
        adapt_rate: k of the 1/5 success rule (0: the step stays a).
        target_success: p, the share of kept steps the adapted step settles at (Rechenberg: 1/5).
    """

    name = "keep_or_revert"
    summary = "random search: every synapse tries +-a, one pass, broadcast 1 bit (kept: the loss fell)"
    sections = SECTIONS
    broadcast_label = "kept (+1) / reverted (-1)"

    def __init__(self, a=0.002, adapt_rate=0.0, target_success=0.2):
        self.a = a
        self.adapt_rate = adapt_rate
        self.target_success = target_success
        self.reference_loss = np.nan
        self.step_now = self.step_taken = float(a)  # the step of the next proposal; the one this step tried

    @classmethod
    def from_scenario(cls, scenario, topology, dtype) -> KeepOrRevert:
        return cls(**scenario["keep_or_revert"])

    def params(self) -> dict:
        return {"a": self.a, "adapt_rate": self.adapt_rate, "target_success": self.target_success}

    def shared_state(self) -> dict[str, np.ndarray]:
        return {**super().shared_state(), "step_now": np.array(self.step_now, dtype=np.float64)}

    def load_shared_state(self, state) -> None:
        super().load_shared_state(state)
        if "step_now" in state:
            self.step_now = self.step_taken = float(state["step_now"])

    def step_size(self, step: int) -> float:
        return self.step_taken

    def memory_fields(self) -> tuple[MemoryField, ...]:
        return (MemoryField("perturbation", "int8", values=(-1, 1)),)

    def _propose(self, ctx: RuleContext, delta) -> Change:
        return Change(memory={"perturbation": delta}, offsets=(scalar(self.dtype, self.step_now) * delta,))

    def propose_local(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, np.int8(ctx.draws["perturbation"]))

    def propose_batch(self, ctx: RuleContext) -> Change:
        return self._propose(ctx, ctx.draws["perturbation"])

    def broadcast(self, evaluations, step: int) -> int:
        (tried,) = evaluations
        kept = self.accept(tried.loss)
        self.step_taken = self.step_now
        if self.adapt_rate:
            self.step_now = self.step_now * float(np.exp(self.adapt_rate * (float(kept) - self.target_success)))
        return KEPT if kept else REVERTED

    def sample_broadcast(self, rng, n_examples: int = 8) -> int:
        return int(rng.choice([KEPT, REVERTED]))

    def _update(self, ctx: RuleContext) -> Change:
        if ctx.broadcast != KEPT:
            return NO_CHANGE
        return Change(dw=scalar(self.dtype, self.step_taken) * ctx.memory["perturbation"])

    update_local = _update
    update_batch = _update
