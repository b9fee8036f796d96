"""Scenarios: validated TOML files that say everything a run needs.

Every key is declared in ``SCHEMA`` (:mod:`synapse_sim.schema`) with its type, default and
allowed values; an unknown key or a bad value is a :class:`ScenarioError` that names the key
and says what is allowed. ``--set section.key=value`` overrides use the same checks.
"""

from __future__ import annotations

import copy
import tomllib

from .errors import ScenarioError
from .schema import (  # noqa: F401  (re-exported: rules, tasks and tests import the schema from here)
    GRADIENT_DESCENT,
    INT_LIMIT,
    MAX_SCALE,
    MAX_SEED,
    METHODS,
    SCHEMA,
    SECTION_OWNER,
    TASK_NAMES,
    TASK_SECTION_OWNER,
    Field,
    _check,
    _check_known,
    _load_named_plugins,
    nonzero_step,
    register_method,
    register_task_sections,
    step_field,
)


class Scenario:
    """A validated scenario: ``scenario["policy"]["epsilon"]`` or ``scenario.get("policy.epsilon")``."""

    rule = None

    def __init__(self, data: dict | None = None, source: str | None = None, plugins=None, rule=None):
        """``plugins`` (or a top-level ``plugins`` key in ``data``): modules or files imported first,
        a name found next to ``source`` first (:mod:`synapse_sim.plugins`); kept resolved (absolute).
        ``rule`` (or a top-level ``rule`` key): a learned rule file (:func:`read_rule_file`) that sets
        ``run.method`` and that rule's sections; keys the scenario sets itself win."""
        self.source = source
        data = dict(data or {})
        plugins = data.pop("plugins", plugins) or ()
        rule = data.pop("rule", rule)
        self.plugins = self._load_plugins(plugins, source)
        _load_named_plugins(data)
        if rule is not None:
            self.rule, fragment = read_rule_file(rule, source)
            data = _under(fragment, data, self.rule)
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
        data, rule, overrides = copy.deepcopy(self.data), self.rule, dict(overrides)
        if "rule" in overrides:  # another rule: every rule section back at its default, then the file's
            rule, fragment = read_rule_file(overrides.pop("rule"), self.source)
            for section in SECTION_OWNER:
                data[section] = {k: copy.deepcopy(f.default) for k, f in SCHEMA[section].items()}
            for section, values in fragment.items():
                data[section].update(values)
        method = data["run"]["method"]
        for dotted, value in overrides.items():
            section, key = self._split(dotted)
            data[section][key] = value
        out = Scenario(data, source=self.source, plugins=self.plugins)  # every key set: the file is not read again
        out.rule = rule if data["run"]["method"] == method else None  # another run.method: the file no longer applies
        return out

    def with_sets(self, assignments: list[str]) -> Scenario:
        """Apply ``--set key=value`` strings; values are read as TOML (strings may be bare)."""
        return self.with_overrides(parse_sets(assignments))

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
        if network["init"] == "uniform" and network["init_range"] == 0 and len(network["layers"]) > 2:
            raise ScenarioError(
                f"scenario key 'network.init_range' = 0 with hidden layers (network.layers = {network['layers']}) "
                "and run.method = 'gradient_descent': at all-zero weights every gradient but the output biases' is "
                "exactly 0 and stays 0, so the hidden layers never learn; set network.init_range > 0 (e.g. 0.1)"
            )

    def to_dict(self) -> dict:
        return copy.deepcopy(self.data)

    def to_toml(self) -> str:
        lines = [f"# run.method and its sections from the learned rule file {self.rule}"] if self.rule else []
        lines += [f"plugins = {_toml_value(list(self.plugins))}", ""] if self.plugins else []
        for section, values in self.data.items():
            lines.append(f"[{section}]")
            for key, value in values.items():
                if value is not None:
                    lines.append(f"{key} = {_toml_value(value)}")
            lines.append("")
        return "\n".join(lines)


def read_rule_file(value, source=None) -> tuple[str, dict]:
    """A learned rule file (``learn-rule`` writes them): ``NAME`` shipped with synapse_sim, ``user:NAME``
    (``learn-rule --install NAME``) or a path; returns its name and its sections, checked: ``[run]``
    holds only ``method``, and every other section belongs to that rule."""
    from pathlib import Path

    from .locations import find_rule_file, learned_rule_names

    if not isinstance(value, str) or not value:
        raise ScenarioError(f"scenario key 'rule' = {value!r} is invalid: expected the name or path of a rule file")
    base = Path(source).resolve().parent if source else None
    path = find_rule_file(value, base)
    if path is None:
        raise ScenarioError(
            f"scenario key 'rule' = {value!r}: no such learned rule file; known: "
            f"{', '.join(learned_rule_names()) or 'none'} (`synapse-sim rules` lists them), or give a path"
        )
    try:
        fragment = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"rule file {path} cannot be read as TOML: {exc}") from None
    run = fragment.get("run")
    if not isinstance(run, dict) or set(run) != {"method"}:
        raise ScenarioError(
            f"rule file {path}: expected [run] with only `method` (the rule) and that rule's own sections; "
            f"got [run] = {run!r}"
        )
    method = _check("run", "method", run["method"])
    for section, values in fragment.items():
        if section != "run" and (SECTION_OWNER.get(section) != method or not isinstance(values, dict)):
            raise ScenarioError(
                f"rule file {path}: section [{section}] is not a section of the rule {method!r}; a rule file holds "
                f"[run] method and {method!r}'s own sections "
                f"({', '.join(s for s, o in SECTION_OWNER.items() if o == method) or 'none'})"
            )
    return (str(path) if "/" in value or value.endswith(".toml") else value), fragment


def _under(fragment: dict, data: dict, name: str) -> dict:
    """``data`` over the rule file's sections; refuses a scenario whose ``run.method`` is another rule."""
    method, given = (
        fragment["run"]["method"],
        (data.get("run") if isinstance(data.get("run"), dict) else {}).get("method"),
    )
    if given is not None and given != method:
        raise ScenarioError(
            f"the rule file {name} is a {method!r} rule, but the scenario sets run.method = {given!r}; "
            "remove run.method (the rule file sets it), or drop the rule file"
        )
    if not all(isinstance(data.get(s, {}), dict) for s in fragment):
        return data  # a section that is not a table: the scenario's own check says so
    merged = {**data, "run": {**data.get("run", {}), "method": method}}
    for section, values in fragment.items():
        if section != "run":
            merged[section] = {**values, **data.get(section, {})}
    return merged


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


def parse_sets(assignments: list[str]) -> dict:
    """``--set key=value`` strings as overrides; values are read as TOML (strings may be bare)."""
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
    return overrides
