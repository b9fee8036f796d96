"""Conformance checks: do a rule's (or a feature's) one-synapse and all-synapses forms agree, bit for bit?

They sit above the rules and both views, since the final check runs the Mesa agent view
against the vectorised backend.
"""

from .features import FeatureReport, check_feature
from .rules import RuleReport, check_rule

__all__ = ["FeatureReport", "RuleReport", "check_feature", "check_rule"]
