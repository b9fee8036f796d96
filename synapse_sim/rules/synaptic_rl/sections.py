"""Synaptic RL's scenario sections: ``[state]`` (the local state's features), ``[policy]`` (the shared Q
table: learned or frozen, where it starts, epsilon, alpha_q, gamma) and ``[synapse]`` (alpha_s and the
reward R_t's baseline)."""

from __future__ import annotations

from ...scenario import MAX_SCALE, Field
from .features import feature_from_spec

PAPER_FEATURES = [{"name": "last_actions", "n": 2}, {"name": "last_rewards", "n": 2}]


def _check_features(value):
    for spec in value:
        feature_from_spec(spec)
    return value


def _check_actions(value):
    if any(v not in (-1, 0, 1) for v in value):
        raise ValueError(f"{value} holds an action other than -1 (decrement), 0 (keep) and +1 (increment)")
    return value


SECTIONS = {
    "state": {
        "features": Field(
            "list", PAPER_FEATURES, "local state features, most significant first", check=_check_features
        ),
    },
    "policy": {
        "mode": Field(
            "str", "adaptive", "learn the Q table while training, or keep it frozen", choices=("adaptive", "static")
        ),
        "file": Field(
            "str",
            None,
            "policy to start from: 'shipped', 'shipped:NAME', 'user:NAME' or a path (static mode needs one)",
            optional=True,
        ),
        "actions": Field(
            "ints",
            [],
            "a policy written out instead of a file: one action per state (-1 decrement, 0 keep, +1 increment), "
            "states in the state space's order",
            check=_check_actions,
        ),
        "epsilon": Field("float", 0.25, "exploration probability epsilon", low=0.0, high=1.0),
        "alpha_q": Field("float", 0.01, "Q-learning rate alpha_q", low=0.0, high=1.0),
        "gamma": Field("float", 0.9, "discount of future reward gamma", low=0.0, high=1.0),
        "average_from": Field(
            "float",
            0.5,
            "adaptive runs also save the Q table averaged over the steps after "
            "this fraction of run.iterations (policy.npz; policy_final.npz is the last table)",
            low=0.0,
            high=1.0,
        ),
    },
    "synapse": {
        "alpha_s": Field("float", 0.001, "synaptic step alpha_s", low=0.0, high=MAX_SCALE),
        "alpha_s_schedule": Field("schedule", [], "[[iteration, alpha_s], ...]: alpha_s from that iteration on"),
        "reward_baseline": Field(
            "str",
            "previous_loss",
            "R_t = +1 when the loss is below 'previous_loss' (the paper: the weights before the step, on the same "
            "data) or its 'running_average' (rate synapse.baseline_rate; on a control task: this episode's return "
            "beat the running average)",
            choices=("previous_loss", "running_average"),
        ),
        "baseline_rate": Field(
            "float", 0.1, "rate g of the running average: Lbar <- Lbar + g (L - Lbar)", low=0.0, high=1.0
        ),
    },
}
