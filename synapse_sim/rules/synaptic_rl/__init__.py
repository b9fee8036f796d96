"""Synaptic-level reinforcement learning: local state features, the shared Q policy, the rule."""

from .features import FEATURES, Feature, PopulationContext, SynapseContext, register_feature
from .policy import Policy, PolicyFileError
from .rule import RewardSign, SynapticRL
from .state_space import StateSpace

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
