"""synapse_sim: train neural networks without gradients, one synapse agent at a time."""

from .features import Feature, PopulationContext, StateSpace, SynapseContext, register_feature
from .policy import Policy
from .scenario import Scenario, ScenarioError
from .simulation import Simulation
from .topology import Topology
from .vector import VectorEngine

__version__ = "0.1.0"

__all__ = [
    "Feature",
    "Policy",
    "PopulationContext",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "StateSpace",
    "SynapseContext",
    "Topology",
    "VectorEngine",
    "register_feature",
]
