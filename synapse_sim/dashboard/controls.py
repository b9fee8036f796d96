"""The dashboard's controls and how they become a scenario.

:func:`model_params` lists the controls (Mesa's ``model_params`` format: one dict per
control, its ``value`` the base scenario's); :func:`resolve` turns their values into a
scenario on top of a base scenario. Synaptic RL has hand-made controls (epsilon, alpha_s,
alpha_q, gamma, policy, policy file); every other registered rule gets one control per key
of the scenario sections it owns (``Rule.sections``: a number, a flag or a choice), named
``SECTION_KEY`` (``spsa_a``; node perturbation's keys are ``np_sigma`` ...; see
:mod:`.rule_controls`). Only the chosen
rule's controls apply: a scenario refuses keys of another rule's sections. A control value
that cannot be used is listed in ``problems`` and a working value is used instead.
"""

from __future__ import annotations

import re

from ..locations import notmnist_sample
from ..rules import RULES
from ..rules.synaptic_rl.policy import PolicyFileError
from ..rules.synaptic_rl.rule import build_policy
from ..rules.synaptic_rl.state_space import StateSpace, parse_features
from ..scenario import SCHEMA, SECTION_OWNER, TASK_SECTION_OWNER, Scenario, ScenarioError, read_rule_file
from ..tasks import ClassificationTask, DecisionBoundaryTask, build_task
from .rule_controls import CONTROL_TASK, LEARNED, SYNAPTIC_RL, dashboard_rules, rule_controls

TASKS = ("decision_boundary", "notmnist", "digits")  # the dashboard switches between these; a plug-in task stays
POLICY_CHOICES = ("adaptive", "static: shipped", "static: file", "adaptive: start from file")
ALPHA_S_VALUES = (0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01)
# scenario keys that belong to a task but are not dashboard controls
TASK_PRESETS = {
    "decision_boundary": {"network.hidden_activation": "tanh", "network.dtype": "float64"},
    "notmnist": {"network.hidden_activation": "relu", "network.dtype": "float32"},
    "digits": {"network.hidden_activation": "relu", "network.dtype": "float32"},
}
DEFAULT_HIDDEN = {"decision_boundary": [100], "notmnist": [], "digits": [30]}
SYNAPTIC_RL_CONTROLS = ("features", "epsilon", "alpha_s", "alpha_q", "gamma", "policy", "policy_file")
MAX_RASTER_LENGTH = 2000  # the model keeps a weight vector per raster step (the inspector's trace)


def controls_of(rule: str) -> tuple[str, ...]:
    """The control names that apply under ``rule`` (the rule select, task, hidden and seed always do)."""
    if rule == SYNAPTIC_RL:
        return SYNAPTIC_RL_CONTROLS
    return tuple(c.name for c in rule_controls(every_task=True).get(rule, ()))


def default_rule(scenario: Scenario) -> str:
    """The scenario's ``run.method`` (``learned:NAME`` for a learned rule file) if the dashboard can run it on
    the scenario's task, else synaptic RL."""
    method = scenario["run"]["method"]
    if method not in dashboard_rules(scenario["task"]["name"]):
        return SYNAPTIC_RL
    return f"{LEARNED}{scenario.rule}" if scenario.rule else method


def rule_overrides(scenario: Scenario, name: str) -> dict:
    """The overrides that make ``scenario`` run by rule ``name``: every other rule's sections back at their defaults."""
    if scenario["run"]["method"] == name:
        return {}
    overrides = {
        f"{section}.{key}": field.default
        for section, owner in SECTION_OWNER.items()
        if owner != name
        for key, field in SCHEMA[section].items()
    }
    return {**overrides, "run.method": name}


def with_rule(scenario: Scenario, name: str) -> Scenario:
    """``scenario`` run by rule ``name``: every other rule's sections back at their defaults."""
    overrides = rule_overrides(scenario, name)
    return scenario.with_overrides(overrides) if overrides else scenario


def parse_hidden(text) -> list[int]:
    """``"100"`` -> [100], ``"32, 16"`` -> [32, 16], ``""`` -> [] (no hidden layer)."""
    if isinstance(text, (list, tuple)):
        values = list(text)
    else:
        if re.search(r"(^|[,;\s])-", str(text).strip()):
            raise ValueError(f"hidden layers {text!r}: sizes must be positive whole numbers (a '-' only joins sizes)")
        parts = str(text).replace(";", ",").replace("-", ",").replace(" ", ",").split(",")
        values = [p for p in parts if p.strip()]
    try:
        sizes = [int(v) for v in values]
    except (TypeError, ValueError):
        raise ValueError(f"hidden layers {text!r}: expected sizes like '100' or '32, 16'") from None
    if any(s < 1 for s in sizes):
        raise ValueError(f"hidden layers {text!r}: sizes must be positive")
    return sizes


def features_text(spec: list[dict]) -> str:
    """A state space's features as the page writes them: ``last_actions:2, last_rewards:2``."""
    parts = []
    for feature in spec:
        values = [v for k, v in feature.items() if k != "name"]
        parts.append(feature["name"] + (f":{values[0]}" if len(values) == 1 else ""))
    return ", ".join(parts)


def state_space_note(text) -> str:
    """The size of the state space the features control names, or why it names none (before Reset)."""
    try:
        space = StateSpace.from_spec(parse_features(text))
    except (ValueError, TypeError) as exc:
        return f"state space: {exc}"
    return f"state space: {space.n_states:,} states ({' x '.join(map(str, space.cardinalities))})"


def policy_choice(scenario: Scenario) -> str:
    p = scenario["policy"]
    if p["mode"] == "static":
        return "static: shipped" if p["file"] == "shipped" else "static: file"
    return "adaptive: start from file" if p["file"] else "adaptive"


def task_kind(task) -> str | None:
    if isinstance(task, ClassificationTask):
        return "notmnist"
    if isinstance(task, DecisionBoundaryTask):
        return "decision_boundary"
    return None


def base_for_task(task) -> Scenario:
    """A base scenario matching a task object passed in (e.g. a classification task with 784 inputs)."""
    if isinstance(task, ClassificationTask):
        return Scenario().with_overrides(
            {
                "task.name": "notmnist",
                "network.layers": [task.x_val.shape[1], task.n_classes],
                **TASK_PRESETS["notmnist"],
                "policy.epsilon": 0.1,
                "synapse.alpha_s": 0.0001,
            }
        )
    return Scenario()


def io_sizes(name: str, task) -> tuple[int, int]:
    if name == "digits":
        return 64, 10
    if name == "notmnist":
        if isinstance(task, ClassificationTask):
            return task.x_val.shape[1], task.n_classes
        return 784, 10
    return 2, 1


def other_tasks_defaults(task_name: str) -> dict:
    """The keys of the sections other tasks own back at their defaults (leaving a control scenario for the
    decision boundary drops its ``[control]`` keys, which a scenario refuses on another task)."""
    return {
        f"{section}.{key}": field.default
        for section, owner in TASK_SECTION_OWNER.items()
        if owner != task_name
        for key, field in SCHEMA[section].items()
    }


def control_outputs(scenario: Scenario, rule_name: str, layers: list[int], problems: list[str]) -> dict:
    """The control keys that fit ``rule_name``'s outputs: K populations per action are the spiking rule's
    (``control.actors``); a softmax rule gets one output per action, so switching the spiking CartPole
    scenario to REINFORCE gives a 4-200-2 network (said in ``problems``)."""
    actors = scenario["control"]["actors"]
    if actors == 1 or getattr(RULES.get(rule_name), "population_outputs", False):
        return {}
    per_action = layers[-1] // actors
    problems.append(
        f"control.actors = {actors} (populations that vote) is the spiking rule's: {rule_name} reads one output "
        f"per action, so control.actors = 1 and {per_action} outputs"
    )
    return {"control.actors": 1, "network.layers": [*layers[:-1], per_action]}


def resolve(
    base: Scenario | None = None,
    task=None,
    *,
    task_name=None,
    hidden=None,
    epsilon=None,
    alpha_s=None,
    alpha_q=None,
    gamma=None,
    policy=None,
    policy_file=None,
    seed=None,
    rule=None,
    features=None,
    **rule_values,
) -> tuple[Scenario, object, list[str]]:
    """Controls -> (scenario, task object or None to let the model build it, problems).

    ``rule`` picks ``run.method``; only that rule's controls apply (synaptic RL: epsilon,
    alpha_s, alpha_q, gamma, policy, policy_file; any other rule: its :func:`rule_controls`,
    passed as ``rule_values``: ``spsa_a=0.01``), the others are ignored.
    """
    base = base if base is not None else base_for_task(task)
    problems: list[str] = []
    scenario = base
    known = {c.name for controls in rule_controls(every_task=True).values() for c in controls}
    unknown = sorted(set(rule_values) - known)
    if unknown:
        raise TypeError(f"unknown dashboard controls {unknown}; known rule controls: {sorted(known)}")

    def apply(overrides: dict, what: str) -> bool:
        nonlocal scenario
        try:
            scenario = scenario.with_overrides(overrides)
            return True
        except ScenarioError as exc:
            problems.append(f"{what}: {exc}")
            return False

    def apply_numbers(pairs) -> None:
        for key, value in pairs:
            if value is None or value == "":
                continue
            try:
                number = float(value)
            except (TypeError, ValueError):
                problems.append(f"{key} = {value!r} is not a number; keeping {scenario.get(key)}")
                continue
            apply({key: number}, key)

    name = task_name or base["task"]["name"]
    if name not in TASKS and name != base["task"]["name"]:
        problems.append(f"task {name!r} is not one of {', '.join(TASKS)}; using {base['task']['name']}")
        name = base["task"]["name"]
    runnable = dashboard_rules(name)
    # a rule that cannot run falls back to synaptic RL; on a control task to the base scenario's rule
    fallback = default_rule(base) if name == CONTROL_TASK == base["task"]["name"] else SYNAPTIC_RL
    rule_name = default_rule(base) if rule is None or rule == "" else str(rule)
    learned = None
    if rule_name.startswith(LEARNED):  # a learned rule file: its rule, then all its keys (no controls)
        learned = rule_name.removeprefix(LEARNED)
        try:
            rule_name = read_rule_file(learned)[1]["run"]["method"]
        except ScenarioError as exc:
            problems.append(f"{exc}; using {fallback}")
            learned, rule_name = None, fallback
    if (rule is None or rule == "") and base["run"]["method"] not in runnable:
        why = "a control rule: it runs on control tasks only" if name != CONTROL_TASK else "not a control rule"
        problems.append(
            f"run.method {base['run']['method']!r} does not run in the dashboard on task {name!r} ({why}); "
            f"showing {SYNAPTIC_RL}"
        )
    if rule_name not in runnable:
        problems.append(f"rule {rule!r} is not one of {', '.join(runnable)}; using {fallback}")
        rule_name, learned = fallback, None
    task_keys = (
        {"task.name": name, **TASK_PRESETS[name], **other_tasks_defaults(name)} if name != base["task"]["name"] else {}
    )
    current = scenario["network"]["layers"]
    n_in, n_out = io_sizes(name, task) if name in TASKS else (current[0], current[-1])
    fallback_hidden = current[1:-1] if name == base["task"]["name"] else DEFAULT_HIDDEN[name]
    try:
        hidden_sizes = parse_hidden(hidden) if hidden is not None else fallback_hidden
    except ValueError as exc:
        problems.append(f"{exc}; using {fallback_hidden}")
        hidden_sizes = fallback_hidden
    shape = {**task_keys, "network.layers": [n_in, *hidden_sizes, n_out]}
    if name == CONTROL_TASK:
        shape.update(control_outputs(scenario, rule_name, shape["network.layers"], problems))
    try:  # rule, task and network at once: a rule may need the task (Q-AGREL: classes)
        scenario = scenario.with_overrides({**rule_overrides(scenario, rule_name), **shape})
    except ScenarioError as exc:
        problems.append(f"rule {rule_name}: {exc}; using {fallback} with its defaults")
        rule_name = fallback
        if name == CONTROL_TASK:  # the base scenario's own outputs again
            shape = {**shape, "control.actors": base["control"]["actors"]}
            shape["network.layers"] = [*shape["network.layers"][:-1], base["network"]["layers"][-1]]
        scenario = with_rule(scenario, rule_name)
        apply(shape, "task and network")

    if learned is not None and not apply({"rule": learned}, f"rule file {learned}"):
        learned = None
    if learned is not None:
        features = epsilon = alpha_s = alpha_q = gamma = policy = None
        rule_values = {}
    if (
        rule_name == SYNAPTIC_RL
        and features is not None
        and str(features).strip() != features_text(scenario["state"]["features"])
    ):
        try:
            apply({"state.features": parse_features(features)}, "state features")
        except ValueError as exc:
            problems.append(f"{exc}; keeping {features_text(scenario['state']['features'])}")
    if rule_name == SYNAPTIC_RL:
        apply_numbers(
            (
                ("policy.epsilon", epsilon),
                ("synapse.alpha_s", alpha_s),
                ("policy.alpha_q", alpha_q),
                ("policy.gamma", gamma),
            )
        )
    for control in rule_controls(every_task=True).get(rule_name, ()):
        value = rule_values.get(control.name)
        if value is None or value == "":
            continue
        try:
            parsed = control.parse(value)
        except ValueError as exc:
            problems.append(f"{exc}; keeping {scenario.get(control.key)}")
            continue
        apply({control.key: parsed}, control.key)

    if seed is not None and str(seed).strip() != "":
        try:
            number = int(str(seed).strip())
        except ValueError:
            problems.append(f"seed {seed!r} is not a whole number; keeping {scenario['run']['seed']}")
        else:
            apply({"run.seed": number}, "seed")

    if policy is not None and rule_name == SYNAPTIC_RL:
        file = str(policy_file or "").strip() or None
        if policy not in POLICY_CHOICES:
            problems.append(f"policy {policy!r} is not one of {', '.join(POLICY_CHOICES)}; using adaptive")
            policy = "adaptive"
        if policy in ("static: file", "adaptive: start from file") and file is None:
            problems.append(f"policy '{policy}' needs a policy file (NAME.npz + NAME.json); using adaptive")
            policy = "adaptive"
        mode, file = {
            "adaptive": ("adaptive", None),
            "static: shipped": ("static", "shipped"),
            "static: file": ("static", file),
            "adaptive: start from file": ("adaptive", file),
        }[policy]
        apply({"policy.mode": mode, "policy.file": file}, "policy")
    if rule_name == SYNAPTIC_RL and learned is None:
        try:
            build_policy(scenario, StateSpace.from_spec(scenario["state"]["features"]))
        except (PolicyFileError, OSError) as exc:
            problems.append(f"{exc}; using an adaptive policy that starts from zeros")
            apply({"policy.mode": "adaptive", "policy.file": None}, "policy")

    task_object = None
    layers = scenario["network"]["layers"]
    if task is not None and task_kind(task) == name and io_sizes(name, task) == (layers[0], layers[-1]):
        task_object = task
    elif name == "notmnist":
        if scenario["task"]["data"] is None and notmnist_sample() is not None:
            apply({"task.data": str(notmnist_sample())}, "task.data")
        try:
            task_object = build_task(scenario, scenario["network"]["dtype"])
        except (ImportError, OSError, ValueError) as exc:
            problems.append(
                f"notMNIST data could not be loaded ({exc}); start the dashboard with --data DIR (or a notMNIST "
                "scenario whose task.data names the data, or set $SYNAPSE_SIM_NOTMNIST). Fell back to the "
                "decision-boundary task with its defaults (2-100-1, alpha_s 0.001); the controls show it"
            )
            fallback = Scenario().with_overrides({"run.seed": scenario["run"]["seed"]})
            if rule_name == SYNAPTIC_RL:
                kept = {
                    "epsilon": scenario["policy"]["epsilon"],
                    "alpha_q": scenario["policy"]["alpha_q"],
                    "gamma": scenario["policy"]["gamma"],
                    "policy": policy_choice(scenario),
                    "policy_file": scenario["policy"]["file"],
                }
            else:
                kept = {c.name: scenario.get(c.key) for c in rule_controls(every_task=True).get(rule_name, ())}
            scenario, task_object, _ = resolve(fallback, None, rule=rule_name, **kept)
    return scenario, task_object, problems
