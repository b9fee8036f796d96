"""The agent view's agents: one synapse, its weight and its local memory; a feedback synapse."""

from __future__ import annotations

import mesa
import numpy as np

from .rules import Change, RuleContext
from .rules.base import EMPTY


class SynapseAgent(mesa.Agent):
    """A synapse that runs its rule's local form on its own memory.

    It holds its weight (the model's dtype) and ``memory``, the rule's fields for this
    synapse (its own copy of what was broadcast, too). It reads the step's random
    numbers and its neurons' activity at its own ``sid``, so the order in which agents
    act does not matter.
    """

    def __init__(self, model, sid: int, weight, memory: dict):
        super().__init__(model)
        self.sid = int(sid)
        self.layer = int(model.topology.layer[sid])
        self.pre = model.topology.pre_neuron(sid)
        self.post = model.topology.post_neuron(sid)
        self.is_bias = bool(model.topology.is_bias[sid])
        self.sid_scalar = np.int64(sid)
        self.is_bias_scalar = np.bool_(self.is_bias)
        self.weight = weight
        self.memory = memory
        self.action = None
        self.offsets: tuple = ()
        self.report: dict = {}
        self.feedback: FeedbackSynapseAgent | None = None

    def context(self, draws=None, broadcast=None) -> RuleContext:
        """What this synapse knows: its memory, its random numbers, its two neurons, the broadcast."""
        neurons = self.model.simulation.neurons
        pre = post = coincidence = None
        if neurons.activity is not None:
            pre = neurons.activity[self.pre[0]][self.pre[1]]
            post = neurons.activity[self.post[0]][self.post[1]]
        if neurons.coincidence is not None:
            coincidence = neurons.coincidence[self.sid]
        return RuleContext(
            self.model.simulation.step_count + 1,
            self.sid_scalar,
            self.weight,
            self.is_bias_scalar,
            self.memory if self.feedback is None else {**self.memory, self.feedback.field: self.feedback.weight},
            {k: v[self.sid] for k, v in draws.items()} if draws else EMPTY,
            broadcast,
            pre,
            post,
            coincidence,
        )

    def apply(self, change: Change) -> None:
        if change.dw is not None:
            self.weight = self.weight + change.dw
        if change.memory:
            self.memory.update(change.memory)
            if self.feedback is not None and self.feedback.field in change.memory:
                self.feedback.weight = self.memory.pop(self.feedback.field)
        self.report = change.report

    def propose(self) -> None:
        """Act: the rule's proposal for this synapse (a weight change now and/or offsets for the passes)."""
        change = self.model.rule.propose_local(self.context(draws=self.model.draws))
        self.apply(change)
        self.offsets = change.offsets
        if "action" in change.report:
            self.action = int(change.report["action"])

    def update(self) -> None:
        """Learn locally from the broadcast."""
        self.apply(self.model.rule.update_local(self.context(broadcast=self.model.broadcast)))

    def observe(self) -> None:
        """Recompute memory derived from the rest (synaptic RL: the state index)."""
        self.apply(self.model.rule.observe_local(self.context()))


class FeedbackSynapseAgent(mesa.Agent):
    """The feedback synapse of a forward synapse: on the reverse edge (its post neuron back to
    its pre neuron), with a weight of its own (a rule's ``reverse`` memory field, e.g. Q-AGREL's
    ``feedback_weight``). It carries the selected output's feedback back to the pre neuron; its
    forward partner reads its weight and, when the rule changes it (learned feedback), writes it."""

    def __init__(self, model, partner: SynapseAgent, field: str, weight):
        super().__init__(model)
        self.sid = partner.sid
        self.layer = partner.layer
        self.pre, self.post = partner.post, partner.pre
        self.is_bias = partner.is_bias
        self.partner = partner
        self.field = field
        self.weight = weight
        partner.feedback = self
