"""The scenario schema: every key with its type, default and allowed values, and the checks a value must pass.

Rules (``rules.register_rule``) and tasks (``tasks.register_task``) add their own sections
here; :class:`synapse_sim.scenario.Scenario` reads a TOML file against it.
"""

from __future__ import annotations

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

    def clip(self, value: float) -> float:
        """``value`` moved into [low, high]: an optimiser's far candidate runs at the edge instead of being
        refused at load (a float key only; anything else is returned as is)."""
        if self.kind != "float" or not isinstance(value, float):
            return value
        low = -np.inf if self.low is None else self.low
        high = np.inf if self.high is None else self.high
        return float(min(max(value, low), high))


INITS = ("uniform", "xavier_normal")  # network.init: how the initial weights are drawn
MAX_SCALE = 1e6  # extent and weight ranges: larger ones overflow the uniform draws or float32 sums
INT_LIMIT = 2**63  # TOML's integers are 64-bit: a scenario file cannot hold a larger one
MAX_SEED = INT_LIMIT - 1

SCHEMA: dict[str, dict[str, Field]] = {
    "task": {
        "name": Field(
            "task",
            "decision_boundary",
            "which task ('decision_boundary', 'notmnist', 'digits', 'control', or a plug-in's)",
        ),
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
        "hidden_activation": Field(
            "str",
            "tanh",
            "hidden-unit nonlinearity (leaky_relu: slope 0.1 below 0, as the NRL code)",
            choices=("tanh", "relu", "leaky_relu", "identity"),
        ),
        "init": Field(
            "str",
            "uniform",
            "initial weights: uniform in [-init_range, init_range], or xavier_normal (std sqrt(2 / (n_in + n_out)) "
            "per layer, the NRL spec's; init_range unused); biases 0 either way",
            choices=INITS,
        ),
        "init_range": Field("float", 0.1, "initial weights uniform in [-r, r], biases 0", low=0.0, high=MAX_SCALE),
        "init_seed": Field(
            "int",
            -1,
            "seed of the initial weights (-1: run.seed); one value for every run seed starts them all from one draw, "
            "as the NRL authors' code does (torch seed 42)",
            low=-1,
            high=MAX_SEED,
        ),
        "bias_step_scale": Field("float", 2.0, "bias synapses step by this times alpha_s (authors' code: 2)", low=0.0),
        "dtype": Field("str", "float64", "floating-point type of weights and data", choices=("float64", "float32")),
    },
    "gradient": {
        "learning_rate": Field("float", 0.1, "gradient-descent baseline: learning rate", low=0.0, high=MAX_SCALE),
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
        "device": Field(
            "str",
            "cpu",
            "where a classification task evaluates: cpu, or cuda (a GPU through torch or CuPy; the rule stays on the "
            "CPU)",
            choices=("cpu", "cuda"),
        ),
        "array_library": Field(
            "str",
            "auto",
            "array library of those evaluations (auto: NumPy on the CPU, torch else CuPy on cuda; array_api_strict "
            "or torch run the array-API path on the CPU)",
            choices=("auto", "numpy", "torch", "cupy", "array_api_strict"),
        ),
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
        "stable_checks": Field(
            "int",
            0,
            "stop once the held-out accuracy, rounded to stable_precision, is the same at this many checks in a "
            "row (0: never; the Q-AGREL paper: 5)",
            low=0,
        ),
        "stable_precision": Field("float", 0.001, "rounding of the held-out accuracy for stable_checks", low=1e-9),
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


def step_field(default: float, help: str, what: str) -> Field:
    """A rule's step size or learning rate: > 0 (:func:`nonzero_step`) and at most ``MAX_SCALE``, so a
    typo such as 1e308 is refused at load, naming the key, rather than overflowing in the first step."""
    return Field("float", default, help, low=0.0, high=MAX_SCALE, check=nonzero_step(what, default))


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


def _known(kind: str, names, value) -> bool:
    """``value`` names a registered task or rule, once an installed plug-in's entry point is loaded if needed."""
    if not isinstance(value, str):
        return False
    if value not in names:
        from .plugins import from_entry_point

        from_entry_point(kind, value)
    return value in names


def _known_task(value) -> bool:
    return _known("task", TASK_NAMES, value)


def _known_method(value) -> bool:
    return _known("rule", METHODS, value)


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


def clip_to_schema(key: str, value: Any) -> Any:
    """``value`` clipped to the bounds of the float key ``section.key`` (unknown keys are left for load to refuse)."""
    section, _, name = key.partition(".")
    field = SCHEMA.get(section, {}).get(name)
    return field.clip(value) if field is not None else value


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
    elif field.kind == "ints":
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is invalid: expected a list of integers ({field.help})"
            )
        value = list(value)
    elif field.kind == "schedule":
        ok = isinstance(value, list) and all(
            isinstance(p, list)
            and len(p) == 2
            and isinstance(p[0], int)
            and not isinstance(p[0], bool)
            and 1 <= p[0] < INT_LIMIT
            and isinstance(p[1], (int, float))
            and not isinstance(p[1], bool)
            and 0 <= p[1] <= MAX_SCALE
            for p in value
        )
        if not ok:
            raise ScenarioError(
                f"scenario key '{where}' = {value!r} is invalid: "
                f"expected [[iteration, value], ...] with iteration >= 1 and 0 <= value <= {MAX_SCALE:g}"
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


def _check_known(section: str, key: str) -> None:
    if section not in SCHEMA:
        raise ScenarioError(f"unknown scenario section [{section}]; allowed sections: {', '.join(SCHEMA)}")
    if key not in SCHEMA[section]:
        raise ScenarioError(
            f"unknown scenario key '{section}.{key}'; allowed keys in [{section}]: {', '.join(SCHEMA[section])}"
        )
