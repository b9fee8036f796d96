"""The agent view's agent: one synapse, its weight and its local memory."""

from __future__ import annotations

import mesa
import numpy as np

from .features import SynapseContext


class SynapseAgent(mesa.Agent):
    """A synapse that chooses decrement / keep / increment from its own memory.

    It holds its weight (the model's dtype), its last actions (most recent
    first), its copy of the last global rewards, and (when the state space
    reads it) the streak of its last action. It reads the step's random numbers at its own ``sid``, so the order
    in which agents act does not matter.
    """

    def __init__(self, model, sid: int, weight, action_history, reward_history, streak: int = 0):
        super().__init__(model)
        self.sid = int(sid)
        self.layer = int(model.topology.layer[sid])
        self.pre = model.topology.pre_neuron(sid)
        self.post = model.topology.post_neuron(sid)
        self.is_bias = bool(model.topology.is_bias[sid])
        self.weight = weight
        self.action_history = [int(a) for a in action_history]
        self.reward_history = [int(r) for r in reward_history]
        self.streak = int(streak)
        self.state = 0
        self.action = None

    def context(self, activity=None) -> SynapseContext:
        pre = post = None
        if activity is not None:
            pre = float(activity[self.pre[0]][self.pre[1]])
            post = float(activity[self.post[0]][self.post[1]])
        return SynapseContext(
            sid=self.sid,
            action_history=tuple(self.action_history),
            reward_history=tuple(self.reward_history),
            weight=float(self.weight),
            is_bias=self.is_bias,
            streak=self.streak,
            pre_activity=pre,
            post_activity=post,
        )

    def observe(self) -> None:
        """Compute this synapse's state from its memory (one synapse at a time)."""
        self.state = self.model.state_space.index_local(self.context(self.model.activity))

    def act(self) -> None:
        """Choose an action with the shared policy, step the weight, remember the action."""
        model = self.model
        action = int(model.policy.act(self.state, model.explore[self.sid], model.random_actions[self.sid]))
        self.weight = self.weight + model.step_table[int(self.is_bias), action]
        if model.simulation.track_streak:
            self.streak = self.streak + 1 if action == self.action_history[0] else 1
        self.action_history = [action, *self.action_history[:-1]]
        self.action = action

    def receive_reward(self, reward: int) -> None:
        self.reward_history = [int(reward), *self.reward_history[:-1]]

    @property
    def memory(self) -> dict:
        return {
            "weight": float(self.weight),
            "actions": list(self.action_history),
            "rewards": list(self.reward_history),
            "streak": self.streak,
            "state": self.state,
            "state_words": self.model.state_space.describe(self.state),
        }


def weight_scalar(value, dtype) -> np.generic:
    return np.dtype(dtype).type(value)
