"""The registry of learning rules by name (``run.method`` in a scenario)."""

from __future__ import annotations

import difflib

from ..plugins import from_entry_point, hint, register_kind
from ..scenario import register_method
from .base import Rule

RULES: dict[str, type[Rule]] = {}


def register_rule(cls: type[Rule]) -> type[Rule]:
    """Make a rule class available to scenarios (``run.method = NAME``), the CLI and the dashboard.

    Refuses a duplicate name; the rule's scenario sections become valid scenario keys.
    """
    if not cls.name:
        raise ValueError(f"{cls.__name__} must set a class attribute `name`")
    if cls.name in RULES and RULES[cls.name] is not cls:
        raise ValueError(f"a rule named {cls.name!r} is already registered ({RULES[cls.name].__qualname__})")
    register_method(cls.name, cls.sections, getattr(cls, "check_scenario", None))
    RULES[cls.name] = cls
    return cls


register_kind("rule", RULES, lambda cls, name: register_rule(cls))


def rule_class(name: str) -> type[Rule]:
    """The rule class registered as ``name`` (an installed plug-in's entry point is loaded if needed)."""
    if name not in RULES and not from_entry_point("rule", name):
        near = difflib.get_close_matches(str(name), RULES, n=1)
        close = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(
            f"unknown learning rule {name!r}{close} Known rules: {', '.join(sorted(RULES))}; {hint('rule', name)}"
        )
    return RULES[name]


def make_rule(scenario, topology, dtype) -> Rule:
    """The rule a scenario names (``run.method``), built from the sections it owns and bound to the network."""
    return rule_class(scenario["run"]["method"]).from_scenario(scenario, topology, dtype).bind(topology, dtype)
