"""Synaptic-level reinforcement learning: local state features, the shared Q policy, the rule."""

from .features import FEATURES, Feature, PopulationContext, StateSpace, SynapseContext, register_feature
from .policy import Policy, PolicyFileError
from .rule import RewardSign, SynapticRL

__all__ = [
    "FEATURES",
    "Feature",
    "Policy",
    "PolicyFileError",
    "PopulationContext",
    "RewardSign",
    "StateSpace",
    "SynapseContext",
    "SynapticRL",
    "register_feature",
]
