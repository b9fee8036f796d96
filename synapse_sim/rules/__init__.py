"""Learning rules: synapse-local arithmetic plus one broadcast, registered by name.

Adding a rule means adding a module here that subclasses :class:`Rule` and is
decorated with :func:`register_rule`; the engine never names a rule.
"""

from . import (  # noqa: F401  (register the shipped rules)
    error_backprop,
    keep_or_revert,
    momentum_search,
    node_perturbation,
    nrl,
    qagrel,
    reinforce,
    rmhl,
    spiking,
    spsa,
    synaptic_rl,
)
from .base import NO_CHANGE, Change, Episode, MemoryField, Pass, Rule, RuleContext, Trial, scalar
from .registry import RULES, make_rule, register_rule, rule_class

__all__ = [
    "NO_CHANGE",
    "RULES",
    "Change",
    "Episode",
    "MemoryField",
    "Pass",
    "Rule",
    "RuleContext",
    "Trial",
    "make_rule",
    "register_rule",
    "rule_class",
    "scalar",
]
