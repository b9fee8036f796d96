"""The dashboard's controls in Mesa's ``model_params`` format, and what the page shows of them.

:func:`model_params` lists the controls with a scenario's values; :func:`control_values` is what the
page shows for a model that runs a scenario (the controls follow the model), and
:func:`pending_changes` the controls changed since (they apply on Reset).
"""

from __future__ import annotations

from ..rules.synaptic_rl.features import FEATURES
from ..scenario import Scenario
from .controls import (
    ALPHA_S_VALUES,
    MAX_RASTER_LENGTH,
    POLICY_CHOICES,
    SYNAPTIC_RL,
    TASKS,
    base_for_task,
    controls_of,
    default_rule,
    features_text,
    policy_choice,
)
from .rule_controls import dashboard_rules, learned_choices, rule_controls


def model_params(base: Scenario | None = None, task=None, raster_length: int = 200) -> dict:
    """SolaraViz ``model_params``: the controls, with the base scenario's values as defaults."""
    base = base if base is not None else base_for_task(task)
    name = base["task"]["name"]
    alpha_s = base["synapse"]["alpha_s"]
    rule_params = {c.name: c.param(base.get(c.key)) for controls in rule_controls(name).values() for c in controls}
    return {
        "task_name": {"type": "Select", "value": name, "values": list(dict.fromkeys([*TASKS, name])), "label": "task"},
        "hidden": {
            "type": "InputText",
            "value": ", ".join(str(s) for s in base["network"]["layers"][1:-1]),
            "label": "hidden layers (e.g. 100 or 32, 16; empty: none)",
        },
        "rule": {
            "type": "Select",
            "value": default_rule(base),
            "values": [*dashboard_rules(name), *learned_choices(name)],
            "label": "learning rule (each rule uses only its own controls below)",
        },
        "features": {
            "type": "InputText",
            "value": features_text(base["state"]["features"]),
            "label": f"synaptic_rl: state features (name or name:value; registered: {', '.join(FEATURES)})",
        },
        "epsilon": {
            "type": "SliderFloat",
            "value": base["policy"]["epsilon"],
            "min": 0.0,
            "max": 1.0,
            "step": 0.01,
            "label": "synaptic_rl: epsilon (exploration)",
        },
        "alpha_s": {
            "type": "Select",
            "value": alpha_s,
            "values": sorted({*ALPHA_S_VALUES, alpha_s}),
            "label": "synaptic_rl: alpha_s (synaptic step)",
        },
        "alpha_q": {
            "type": "SliderFloat",
            "value": base["policy"]["alpha_q"],
            "min": 0.0,
            "max": 0.2,
            "step": 0.005,
            "label": "synaptic_rl: alpha_q (Q learning rate)",
        },
        "gamma": {
            "type": "SliderFloat",
            "value": base["policy"]["gamma"],
            "min": 0.0,
            "max": 1.0,
            "step": 0.01,
            "label": "synaptic_rl: gamma (discount)",
        },
        "policy": {
            "type": "Select",
            "value": policy_choice(base),
            "values": list(POLICY_CHOICES),
            "label": "synaptic_rl: policy",
        },
        "policy_file": {
            "type": "InputText",
            "value": base["policy"]["file"] if base["policy"]["file"] not in (None, "shipped") else "",
            "label": "synaptic_rl: policy file (NAME.npz + NAME.json, shipped:NAME or user:NAME)",
        },
        **rule_params,
        "seed": {"type": "InputText", "value": str(base["run"]["seed"]), "label": "seed"},
        "raster_length": {
            "type": "SliderInt",
            "value": int(raster_length),
            "min": 20,
            "max": MAX_RASTER_LENGTH,
            "step": 10,
            "label": "raster history (steps)",
        },
        "base_scenario": base,
        "task": task,
    }


def control_values(scenario: Scenario, raster_length: int = 200) -> dict:
    """Every control's value for ``scenario``: what the page shows for a model that runs it."""
    params = model_params(scenario, raster_length=raster_length)
    return {k: v["value"] for k, v in params.items() if isinstance(v, dict) and "type" in v}


def pending_changes(values: dict, scenario: Scenario, raster_length: int = 200) -> list[str]:
    """The controls whose value differs from what the model runs (they apply on Reset)."""
    running = control_values(scenario, raster_length)
    always = {"task_name", "hidden", "rule", "seed", "raster_length"}
    shown = set(controls_of(str(values.get("rule") or SYNAPTIC_RL))) | always
    return [name for name in running if name in shown and name in values and _differs(values[name], running[name])]


def _differs(a, b) -> bool:
    try:
        return float(a) != float(b)
    except (TypeError, ValueError):
        return str(a if a is not None else "").strip() != str(b if b is not None else "").strip()


def initial_kwargs(params: dict) -> dict:
    """The keyword arguments a model built from ``model_params`` defaults gets (what Reset passes first)."""
    return {k: (v["value"] if isinstance(v, dict) and "type" in v else v) for k, v in params.items()}
