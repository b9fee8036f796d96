"""synapse_sim: train neural networks without gradients, one synapse agent at a time."""

from .scenario import Scenario, ScenarioError  # noqa: I001  (the scenario schema first; rules add sections)
from .rules import RULES, Rule, register_rule
from .rules.synaptic_rl import Feature, Policy, PopulationContext, StateSpace, SynapseContext, register_feature
from .engine.simulation import Simulation
from .engine.topology import Topology
from .engine.vector import VectorEngine
from .conformance import check_feature, check_rule

__version__ = "0.1.0"

__all__ = [
    "RULES",
    "Feature",
    "Policy",
    "PopulationContext",
    "Rule",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "StateSpace",
    "SynapseContext",
    "Topology",
    "VectorEngine",
    "check_feature",
    "check_rule",
    "register_feature",
    "register_rule",
]
