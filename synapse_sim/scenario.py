"""Scenarios: validated TOML files that say everything a run needs.

Every key is declared in ``SCHEMA`` with its type, default and allowed values;
an unknown key or a bad value is a :class:`ScenarioError` that names the key
and says what is allowed. ``--set section.key=value`` overrides use the same checks.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import ScenarioError


@dataclass(frozen=True)
class Field:
    kind: str  # "int", "float", "str", "bool", "int_list", "schedule", "list", "method", "task"
    default: Any
    help: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    optional: bool = False
    check: Callable[[Any], Any] | None = None

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bounds = []
        if self.low is not None:
            bounds.append(f">= {self.low}")
        if self.high is not None:
            bounds.append(f"<= {self.high}")
        return f"{self.kind}" + (f" {' and '.join(bounds)}" if bounds else "")


MAX_SCALE = 1e6  # extent and weight ranges: larger ones overflow the uniform draws or float32 sums
INT_LIMIT = 2**63  # TOML's integers are 64-bit: a scenario file cannot hold a larger one
MAX_SEED = INT_LIMIT - 1

SCHEMA: dict[str, dict[str, Field]] = {
    "task": {
        "name": Field("task", "decision_boundary", "which task ('decision_boundary', 'notmnist', or a plug-in's)"),
        "n_points": Field("int", 2000, "decision boundary: number of data points", low=1),
        "extent": Field(
            "float", 10.0, "decision boundary: points uniform in [-extent, extent]^2", low=1e-9, high=MAX_SCALE
        ),
        "target_range": Field(
            "float", 1.0, "decision boundary: target weights uniform in [-r, r]", low=1e-9, high=MAX_SCALE
        ),
        "data_seed": Field(
            "int", None, "seed of the task's data / split (default: run.seed)", low=0, high=MAX_SEED, optional=True
        ),
        "data": Field(
            "str",
            None,
            "notMNIST: path to idx files, PNG folder, .tar.gz or .npz (default: $SYNAPSE_SIM_NOTMNIST)",
            optional=True,
        ),
        "validation_fraction": Field("float", 0.25, "notMNIST: held-out share of the data", low=0.01, high=0.99),
        "batch_size": Field("int", 5000, "notMNIST: minibatch size", low=1),
        "batch_interval": Field("int", 5000, "notMNIST: iterations between minibatch redraws", low=1),
    },
    "network": {
        "layers": Field("int_list", [2, 100, 1], "neurons per layer, inputs first"),
        "hidden_activation": Field("str", "tanh", "hidden-unit nonlinearity", choices=("tanh", "relu", "identity")),
        "init_range": Field("float", 0.1, "initial weights uniform in [-r, r], biases 0", low=0.0, high=MAX_SCALE),
        "bias_step_scale": Field("float", 2.0, "bias synapses step by this times alpha_s (authors' code: 2)", low=0.0),
        "dtype": Field("str", "float64", "floating-point type of weights and data", choices=("float64", "float32")),
    },
    "gradient": {
        "learning_rate": Field("float", 0.1, "gradient-descent baseline: learning rate", low=0.0),
        "max_epochs": Field("int", 20000, "gradient-descent baseline: epochs at most", low=1),
        "evaluate_every": Field("int", 50, "gradient-descent baseline: epochs between validation checks", low=1),
        "patience": Field("int", 10, "gradient-descent baseline: checks without improvement before stopping", low=1),
        "min_delta": Field("float", 1e-3, "gradient-descent baseline: relative improvement that counts", low=0.0),
    },
    "run": {
        "method": Field("method", "synaptic_rl", "learning rule (see `synapse-sim rules`) or 'gradient_descent'"),
        "iterations": Field("int", 10000, "training iterations", low=1),
        "seed": Field("int", 0, "seed of everything random in the run", low=0, high=MAX_SEED),
        "checkpoint_every": Field(
            "int", 1000, "iterations between checkpoints (0: only at the end / on interrupt)", low=0
        ),
        "engine": Field("str", "vector", "vectorised backend or Mesa agent view", choices=("vector", "agent")),
        "validate_every": Field(
            "int",
            0,
            "iterations between held-out evaluations (0: never; the decision-boundary task has no held-out "
            "data, so it records none: its accuracy on its own points is the training accuracy)",
            low=0,
        ),
        "max_evaluations": Field(
            "int",
            None,
            "stop once the rule has used this many loss evaluations (forward passes over the minibatch)",
            low=1,
            optional=True,
        ),
        "early_stop_iteration": Field(
            "int",
            None,
            "stop a run whose training accuracy is below early_stop_accuracy at this iteration "
            "(the authors' script: 25,000; table1 replaces such a run by the next seed)",
            low=1,
            optional=True,
        ),
        "early_stop_accuracy": Field(
            "float", 0.2, "training accuracy a run must reach by early_stop_iteration", low=0.0, high=1.0
        ),
        "name": Field("str", None, "name of the results folder (default: scenario file name)", optional=True),
    },
}


def nonzero_step(what: str, default: float) -> Callable[[float], float]:
    """A :class:`Field` check for a rule's step size: 0 would leave every weight where it is, so the run
    could not learn at all; it is refused (the message names the key) rather than run for nothing."""

    def check(value: float) -> float:
        if value == 0:
            raise ValueError(
                f"{what} is 0, so no weight would ever change and the run cannot learn; set it > 0 (default {default})"
            )
        return value

    return check


GRADIENT_DESCENT = "gradient_descent"
METHODS: dict[str, Callable | None] = {GRADIENT_DESCENT: None}
SECTION_OWNER: dict[str, str] = {}  # rule sections ([gradient] stays free: table1 sets it for every scenario)
TASK_SECTION_OWNER: dict[str, str] = {}  # sections of plug-in tasks
TASK_NAMES: set[str] = set()  # ``task.name`` values (``tasks.register_task`` adds them)


def register_method(name: str, sections: dict[str, dict[str, Field]], check: Callable | None = None) -> None:
    """Add a learning rule's scenario sections (``rules.register_rule`` calls this).

    ``check(scenario)`` raises :class:`ScenarioError` for combinations its keys do not allow.
    """
    for section in sections:
        owner = SECTION_OWNER.get(section)
        if owner not in (None, name) or (section in SCHEMA and owner is None):
            raise ValueError(f"rule {name!r}: scenario section [{section}] already belongs to {owner or 'the engine'}")
    SCHEMA.update(sections)
    SECTION_OWNER.update(dict.fromkeys(sections, name))
    METHODS[name] = check


def register_task_sections(name: str, sections: dict[str, dict[str, Field]]) -> None:
    """Make ``name`` a valid ``task.name`` with its own scenario sections (``tasks.register_task`` calls this)."""
    for section in sections:
        owner = TASK_SECTION_OWNER.get(section)
        if owner not in (None, name) or (section in SCHEMA and owner is None):
            taken = owner or SECTION_OWNER.get(section) or "the engine"
            raise ValueError(f"task {name!r}: scenario section [{section}] already belongs to {taken}")
    SCHEMA.update(sections)
    TASK_SECTION_OWNER.update(dict.fromkeys(sections, name))
    TASK_NAMES.add(name)


def _known_task(value) -> bool:
    if not isinstance(value, str):
        return False
    if value not in TASK_NAMES:
        from .plugins import from_entry_point

        from_entry_point("task", value)
    return value in TASK_NAMES


def _known_method(value) -> bool:
    if not isinstance(value, str):
        return False
    if value not in METHODS:
        from .plugins import from_entry_point

        from_entry_point("rule", value)
    return value in METHODS


def _load_named_plugins(data: dict) -> None:
    """Load the installed plug-ins a scenario's task and rule name, before their sections are read."""
    task, run = data.get("task"), data.get("run")
    if isinstance(task, dict):
        _known_task(task.get("name"))
    if isinstance(run, dict):
        _known_method(run.get("method"))
    unknown = [section for section in data if section not in SCHEMA]
    if unknown:  # a section named after an installed task or rule (the convention) makes it known
        from .plugins import from_entry_point

        for section in unknown:
            from_entry_point("task", section) or from_entry_point("rule", section)


def _float(value: int | float) -> float:
    """``float(value)``, with an integer too large for a float read as infinity (then refused as not finite)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _check(section: str, key: str, value: Any) -> Any:
    where = f"{section}.{key}"
    if section not in SCHEMA:
        raise ScenarioError(f"unknown scenario section [{section}]; allowed sections: {', '.join(SCHEMA)}")
    if key not in SCHEMA[section]:
        raise ScenarioError(
            f"unknown scenario key '{where}'; allowed keys in [{section}]: {', '.join(SCHEMA[section])}"
        )
    field = SCHEMA[section][key]
    bad = f"scenario key '{where}' = {value!r} is invalid: expected {field.allowed()} ({field.help})"
    if value is None and field.optional:
        return None
    if field.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ScenarioError(bad)
        if not -INT_LIMIT <= value < INT_LIMIT:
            raise ScenarioError(
                f"scenario key '{where}' = {value} is too large: scenario files hold 64-bit integers "
                f"(below 2**63 in size); expected {field.allowed()} ({field.help})"
            )
    elif field.kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(bad)
        number = _float(value) + 0.0  # -0.0 becomes 0.0 (NumPy reads uniform(0.0, -0.0) as an empty range)
        if not np.isfinite(number):
            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is not a finite number: expected {field.allowed()}"
            )
        value = number
    elif field.kind == "str":
        if not isinstance(value, str):
            raise ScenarioError(bad)
    elif field.kind == "bool":
        if not isinstance(value, bool):
            raise ScenarioError(bad)
    elif field.kind == "int_list":
        if (
            not isinstance(value, list)
            or len(value) < 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v < INT_LIMIT for v in value)
        ):
            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is invalid: expected a list of at least two positive "
                "(64-bit) integers"
            )
        return list(value)
    elif field.kind == "schedule":
        ok = isinstance(value, list) and all(
            isinstance(p, list)
            and len(p) == 2
            and isinstance(p[0], int)
            and not isinstance(p[0], bool)
            and 1 <= p[0] < INT_LIMIT
            and isinstance(p[1], (int, float))
            and not isinstance(p[1], bool)
            and p[1] >= 0
            and np.isfinite(_float(p[1]))
            for p in value
        )
        if not ok:
            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is invalid: "
                "expected [[iteration, alpha_s], ...] with iteration >= 1 and a finite alpha_s >= 0"
            )
        return sorted([int(i), float(a)] for i, a in value)
    elif field.kind == "list":
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise ScenarioError(f"scenario key '{where}' is invalid: expected a list of tables ({field.help})")
        value = [dict(v) for v in value]
    elif field.kind == "method":
        if not _known_method(value):
            import difflib

            from .plugins import hint as plugin_hint

            near = difflib.get_close_matches(str(value), METHODS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is not a known learning rule{hint}; "
                f"allowed: {', '.join(repr(m) for m in METHODS)}; {plugin_hint('rule', str(value))}"
            )
    elif field.kind == "task":
        if not isinstance(value, str):
            raise ScenarioError(bad)
        if not _known_task(value):
            from .plugins import hint as plugin_hint

            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is not a known task; allowed: "
                f"{', '.join(repr(t) for t in sorted(TASK_NAMES))}; {plugin_hint('task', value)}"
            )
    if field.check is not None:
        try:
            value = field.check(value)
        except ValueError as exc:
            raise ScenarioError(f"scenario key '{where}': {exc}") from None
    if field.choices and value not in field.choices:
        raise ScenarioError(bad)
    if (field.low is not None and value < field.low) or (field.high is not None and value > field.high):
        raise ScenarioError(bad)
    return value


class Scenario:
    """A validated scenario: ``scenario["policy"]["epsilon"]`` or ``scenario.get("policy.epsilon")``."""

    def __init__(self, data: dict | None = None, source: str | None = None, plugins=None):
        """``plugins`` (or a top-level ``plugins`` key in ``data``): modules or files imported first,
        a name found next to ``source`` first (:mod:`synapse_sim.plugins`); kept resolved (absolute)."""
        self.source = source
        data = dict(data or {})
        plugins = data.pop("plugins", plugins) or ()
        self.plugins = self._load_plugins(plugins, source)
        _load_named_plugins(data)
        self.data = {s: {k: copy.deepcopy(f.default) for k, f in fields.items()} for s, fields in SCHEMA.items()}
        for section, values in data.items():
            if section not in SCHEMA:
                raise ScenarioError(f"unknown scenario section [{section}]; allowed sections: {', '.join(SCHEMA)}")
            if not isinstance(values, dict):
                raise ScenarioError(f"scenario section [{section}] must be a table of keys, got {values!r}")
            for key, value in values.items():
                self.data[section][key] = _check(section, key, value)
        self._check_consistency()

    @staticmethod
    def _load_plugins(plugins, source) -> tuple[str, ...]:
        if not plugins:
            return ()
        from pathlib import Path

        from .plugins import load_all

        base = Path(source).resolve().parent if source else None
        return load_all(plugins, base)

    def __setstate__(self, state: dict) -> None:
        """Unpickling (a spawned study worker) imports the scenario's plug-ins before anything reads it."""
        self._load_plugins(state.get("plugins", ()), None)
        self.__dict__.update(state)

    @classmethod
    def load(cls, path) -> Scenario:
        """A scenario from a TOML file, or a shipped one by name (``"decision_boundary_adaptive"``)."""
        from .locations import find_scenario, scenario_names

        found = find_scenario(path)
        if found is None:
            raise ScenarioError(
                f"scenario {path} not found: not a file, nor a shipped scenario "
                f"(`synapse-sim scenarios` lists them: {', '.join(scenario_names())})"
            )
        path = found
        try:
            text = path.read_text()
        except OSError as exc:
            raise ScenarioError(f"scenario file {path} cannot be read: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"scenario file {path} is not valid TOML: {exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"scenario file {path} is not valid TOML: {exc}") from None
        return cls(data, source=str(path))

    @property
    def data_seed(self) -> int:
        """The seed of the task's data (the boundary, or the notMNIST split): ``task.data_seed``, else ``run.seed``."""
        task = self.data["task"]
        return task["data_seed"] if task["data_seed"] is not None else self.data["run"]["seed"]

    def __getitem__(self, section: str) -> dict:
        return self.data[section]

    def get(self, dotted: str):
        section, key = self._split(dotted)
        return self.data[section][key]

    @staticmethod
    def _split(dotted: str) -> tuple[str, str]:
        if "." in dotted:
            section, key = dotted.split(".", 1)
            _check_known(section, key)
            return section, key
        owners = [s for s, fields in SCHEMA.items() if dotted in fields]
        if len(owners) != 1:
            known = ", ".join(f"{s}.{k}" for s, f in SCHEMA.items() for k in f)
            raise ScenarioError(
                f"scenario key '{dotted}' is {'ambiguous' if owners else 'unknown'}; write section.key, one of: {known}"
            )
        return owners[0], dotted

    def with_overrides(self, overrides: dict) -> Scenario:
        """A copy with ``{"section.key" or unique "key": value}`` applied and checked."""
        data = copy.deepcopy(self.data)
        for dotted, value in overrides.items():
            section, key = self._split(dotted)
            data[section][key] = value
        return Scenario(data, source=self.source, plugins=self.plugins)

    def with_sets(self, assignments: list[str]) -> Scenario:
        """Apply ``--set key=value`` strings; values are read as TOML (strings may be bare)."""
        overrides = {}
        for item in assignments:
            if "=" not in item:
                raise ScenarioError(f"--set {item!r}: expected key=value, e.g. policy.epsilon=0.1")
            key, raw = item.split("=", 1)
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
            overrides[key.strip()] = value
        return self.with_overrides(overrides)

    def _check_consistency(self) -> None:
        """Keys of another rule's sections must keep their defaults; the rule checks its own."""
        method = self.data["run"]["method"]
        if method != GRADIENT_DESCENT:
            for section, owner in SECTION_OWNER.items():
                if owner == method:
                    continue
                for key, value in self.data[section].items():
                    if value != SCHEMA[section][key].default:
                        raise ScenarioError(
                            f"scenario key '{section}.{key}' belongs to the method {owner!r}, but run.method = "
                            f"{method!r}; remove it, or set run.method = {owner!r}"
                        )
        task = self.data["task"]["name"]
        for section, owner in TASK_SECTION_OWNER.items():
            if owner != task:
                for key, value in self.data[section].items():
                    if value != SCHEMA[section][key].default:
                        raise ScenarioError(
                            f"scenario key '{section}.{key}' belongs to the task {owner!r}, but task.name = "
                            f"{task!r}; remove it, or set task.name = {owner!r}"
                        )
        check = METHODS.get(method)
        if check is not None:
            check(self)
        if method == GRADIENT_DESCENT:
            self._check_gradient_descent()

    def _check_gradient_descent(self) -> None:
        """Refuse a gradient-descent baseline that cannot learn at all."""
        network, rate = self.data["network"], self.data["gradient"]["learning_rate"]
        if rate == 0:
            raise ScenarioError(
                "scenario key 'gradient.learning_rate' = 0 with run.method = 'gradient_descent': the weights would "
                "never change; set a learning rate > 0 (default 0.1)"
            )
        if network["init_range"] == 0 and len(network["layers"]) > 2:
            raise ScenarioError(
                f"scenario key 'network.init_range' = 0 with hidden layers (network.layers = {network['layers']}) "
                "and run.method = 'gradient_descent': at all-zero weights every gradient but the output biases' is "
                "exactly 0 and stays 0, so the hidden layers never learn; set network.init_range > 0 (e.g. 0.1)"
            )

    def to_dict(self) -> dict:
        return copy.deepcopy(self.data)

    def to_toml(self) -> str:
        lines = [f"plugins = {_toml_value(list(self.plugins))}", ""] if self.plugins else []
        for section, values in self.data.items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                if value is not None:
                    lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)


def _check_known(section: str, key: str) -> None:
    if section not in SCHEMA:
        raise ScenarioError(f"unknown scenario section [{section}]; allowed sections: {', '.join(SCHEMA)}")
    if key not in SCHEMA[section]:
        raise ScenarioError(
            f"unknown scenario key '{section}.{key}'; allowed keys in [{section}]: {', '.join(SCHEMA[section])}"
        )


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)
