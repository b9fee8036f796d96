"""Each learning rule's dashboard controls, read from the rule registry.

Every registered rule other than synaptic RL (whose controls are hand-made, see
:mod:`.controls`) gets one control per key of the scenario sections it owns
(``Rule.sections``) that is a number, a flag or a choice: a select of preset values
(:data:`RULE_VALUES`) or a typed number, a checkbox, a select of the choices. A control is
named ``SECTION_KEY`` (``spsa_a``; node perturbation's section is shortened: ``np_sigma``),
so a rule registered later gets its controls without a change here.

A learned rule file (``synapse-sim rules`` lists them) is one more entry of the rule select,
``learned:NAME``: it sets the rule and all its keys, so it has no controls of its own.

Which rules a dashboard offers depends on its task: a control task (``task.name = "control"``,
one episode per step) runs the rules that learn from episodes and synaptic RL; every other
task runs the rules that do not need episodes (:func:`dashboard_rules`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..locations import learned_rule_names
from ..rules import RULES
from ..scenario import Field, read_rule_file

SYNAPTIC_RL = "synaptic_rl"
CONTROL_TASK = "control"
LEARNED = "learned:"  # the rule select's entries for learned rule files: "learned:NAME" (no controls of their own)
CONTROL_PREFIX = {"node_perturbation": "np"}  # a rule section's short name in control names
# a select of these values (plus the scenario's) for some rule keys; other numbers are typed
RULE_VALUES = {
    "spsa_a": (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05),
    "spsa_c": (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01),
    "np_sigma": (0.001, 0.003, 0.01, 0.03, 0.1),
    "np_eta": (0.01, 0.03, 0.1, 0.3, 1.0),
}
RULE_LABELS = {
    "spsa_a": "spsa: a (step size)",
    "spsa_c": "spsa: c (perturbation size)",
    "np_sigma": "node_perturbation: sigma (noise std)",
    "np_eta": "node_perturbation: eta (learning rate)",
}


@dataclass(frozen=True)
class RuleControl:
    """One control of a rule's scenario key (``spsa_a`` -> ``spsa.a``)."""

    name: str
    key: str
    rule: str
    field: Field

    @property
    def label(self) -> str:
        return RULE_LABELS.get(self.name, f"{self.rule}: {self.key.split('.', 1)[1]}")

    def param(self, value) -> dict:
        """The control in Mesa's ``model_params`` format, showing ``value``."""
        f = self.field
        if f.kind == "bool":
            return {"type": "Checkbox", "value": bool(value), "label": self.label}
        if f.choices:
            return {"type": "Select", "value": value, "values": list(f.choices), "label": self.label}
        if self.name in RULE_VALUES and value is not None:
            return {
                "type": "Select",
                "value": value,
                "values": sorted({*RULE_VALUES[self.name], value}),
                "label": self.label,
            }
        return {"type": "InputText", "value": "" if value is None else str(value), "label": self.label}

    def parse(self, value):
        """The scenario value of a control value (a typed string, a number, a flag); ValueError if none."""
        kind = self.field.kind
        if kind == "bool":
            if isinstance(value, str):
                if value.strip().lower() not in ("true", "false", "1", "0"):
                    raise ValueError(f"{self.key} = {value!r} is not true or false")
                return value.strip().lower() in ("true", "1")
            return bool(value)
        if kind in ("float", "int"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{self.key} = {value!r} is not a number") from None
            if kind == "int":
                if not number.is_integer():
                    raise ValueError(f"{self.key} = {value!r} is not a whole number")
                return int(number)
            return number
        return str(value)


def dashboard_rules(task_name: str | None = None) -> list[str]:
    """The registered rules the dashboard runs on ``task_name``: on a control task those that learn from
    episodes and synaptic RL (its reward: the return beat its running average); on any other task
    (``None``: the decision boundary, notMNIST, digits) those that do not need episodes."""
    if task_name == CONTROL_TASK:
        return sorted(name for name, cls in RULES.items() if cls.needs_episodes or name == SYNAPTIC_RL)
    return sorted(name for name, cls in RULES.items() if not cls.needs_episodes)


def learned_choices(task_name: str | None = None) -> list[str]:
    """The rule select's entries for the learned rule files (shipped and the user's) whose rule runs on
    ``task_name``: ``"learned:NAME"``; a file that cannot be read is left out (the scenario says why)."""
    runnable, out = set(dashboard_rules(task_name)), []
    for name in learned_rule_names():
        try:
            method = read_rule_file(name)[1]["run"]["method"]
        except ValueError:
            continue
        if method in runnable:
            out.append(f"{LEARNED}{name}")
    return out


def all_dashboard_rules() -> list[str]:
    """Every rule some dashboard runs (on a control task or on another)."""
    return sorted({*dashboard_rules(), *dashboard_rules(CONTROL_TASK)})


def rule_controls(task_name: str | None = None, every_task: bool = False) -> dict[str, list[RuleControl]]:
    """Each rule's controls from its scenario sections (synaptic RL's are hand-made), for the rules the
    dashboard runs on ``task_name`` (``every_task``: for the rules of every task)."""
    out: dict[str, list[RuleControl]] = {}
    for rule in all_dashboard_rules() if every_task else dashboard_rules(task_name):
        cls = RULES[rule]
        if rule == SYNAPTIC_RL:
            continue
        out[rule] = [
            RuleControl(f"{CONTROL_PREFIX.get(section, section)}_{key}", f"{section}.{key}", rule, field)
            for section, fields in cls.sections.items()
            for key, field in fields.items()
            if field.kind in ("float", "int", "bool") or (field.kind == "str" and field.choices)
        ]
    return out
