"""Plug-ins: state features, learning rules and tasks defined outside the package.

A plug-in is Python code that registers names (``@register_feature``, ``@register_rule``,
``register_task``). It reaches every process that needs it by one of two routes:

* **a scenario key**, ``plugins = ["my_features"]`` at the top of the TOML file: a file
  ``my_features.py`` (or a package folder) next to the scenario, a path, or a module on the
  Python path. Loading the scenario imports it; a results folder's ``scenario.toml`` keeps
  its absolute path, so ``--resume``, study workers and the dashboard import it too;
* **an entry point** of an installed package, in the group ``synapse_sim.features``,
  ``synapse_sim.rules`` or ``synapse_sim.tasks``, named after what it registers: a feature or
  rule class (``net_drift = "my_package.features:NetDrift"``), a task's builder (its
  ``sections`` attribute, if any, adds its scenario sections), or a module that registers the
  name when imported. It is loaded the first time a scenario or a policy file asks for the name.

Classes defined in ``__main__`` (a notebook cell, a script) reach spawned study workers by
value: :func:`snapshot` pickles them with cloudpickle and :func:`restore` registers them in
the worker. Nothing here changes ``sys.path`` for the user.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

from .errors import ScenarioError

GROUPS = {"feature": "synapse_sim.features", "rule": "synapse_sim.rules", "task": "synapse_sim.tasks"}
_LOADED: dict[str, str] = {}  # resolved plug-in (absolute path or module name) -> module name
_KINDS: dict[str, tuple[dict, Callable]] = {}  # kind -> (its registry, register(obj, name))


class PluginError(ScenarioError):
    """A plug-in cannot be found or fails to import; the message names it and says where it was looked for."""


def register_kind(kind: str, registry: dict, register: Callable) -> None:
    """The registries (features, rules, tasks) announce themselves here, so this module imports none of them."""
    _KINDS[kind] = (registry, register)


def hint(kind: str, name: str) -> str:
    """How to make a plug-in's ``name`` known, for "unknown ..." messages."""
    module = f"my_{kind}s"
    return (
        f"if {name!r} comes from a plug-in, import it first: list its module at the top of the scenario "
        f'(plugins = ["{module}"]: a file {module}.py next to the scenario, a path, or a module on the Python '
        f"path), or install a package that declares it under the entry-point group '{GROUPS[kind]}' "
        f'({name} = "package.module:Object")'
    )


def resolve(spec: str, base: Path | None = None) -> str:
    """A plug-in as a scenario names it -> an absolute file or package path, or a module name.

    ``base`` is the scenario's folder: ``"my_features"`` is ``base/my_features.py`` (or the
    package ``base/my_features/``) when that exists, else a module on the Python path.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise PluginError(f"a plug-in is a module name or a path (a non-empty string), got {spec!r}")
    base = Path(base) if base is not None else Path.cwd()
    looks_like_path = spec.endswith(".py") or "/" in spec or "\\" in spec
    path = Path(spec).expanduser()
    if not path.is_absolute():
        path = base / path
    if looks_like_path:
        if path.is_file() or (path / "__init__.py").is_file():
            return str(path.resolve())
        raise PluginError(f"plug-in {spec!r} not found: {path} is not a Python file or package folder")
    for candidate in (base / f"{spec}.py", base / spec / "__init__.py"):
        if candidate.is_file():
            return str((candidate if candidate.name != "__init__.py" else candidate.parent).resolve())
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError) as exc:
        raise PluginError(f"plug-in {spec!r} cannot be looked up: {exc}") from None
    if found is None:
        raise PluginError(
            f"plug-in {spec!r} not found: no {spec}.py or package {spec}/ in {base} (the scenario's folder), "
            "and no module of that name on the Python path"
        )
    return spec


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"synapse_sim_plugin_{stem}_{digest}"


def load(spec: str, base: Path | None = None) -> str:
    """Import one plug-in (once per process) and return its resolved form."""
    resolved = resolve(spec, base)
    if resolved in _LOADED:
        return resolved
    path = Path(resolved)
    try:
        if path.is_absolute():
            name = _module_name(path)
            if name not in sys.modules:
                package = path.is_dir()
                location = path / "__init__.py" if package else path
                found = importlib.util.spec_from_file_location(
                    name, location, submodule_search_locations=[str(path)] if package else None
                )
                module = importlib.util.module_from_spec(found)
                sys.modules[name] = module
                try:
                    found.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]
                    raise
        else:
            name = importlib.import_module(resolved).__name__
    except Exception as exc:
        raise PluginError(f"plug-in {spec!r} ({resolved}) failed to import: {type(exc).__name__}: {exc}") from exc
    _LOADED[resolved] = name
    return resolved


def load_all(specs, base: Path | None = None) -> tuple[str, ...]:
    """Import every plug-in a scenario lists; their resolved forms, in order."""
    if isinstance(specs, str) or not isinstance(specs, (list, tuple)):
        raise PluginError(
            f"scenario key 'plugins' must be a list of module names or paths, e.g. [\"my_features\"]; got {specs!r}"
        )
    return tuple(load(spec, base) for spec in specs)


def loaded() -> tuple[str, ...]:
    return tuple(_LOADED)


def origin(obj) -> str | None:
    """The plug-in (as :func:`loaded` lists it) whose module defined ``obj``'s class, else None."""
    module = getattr(obj if isinstance(obj, type) else type(obj), "__module__", "") or ""
    for spec, name in _LOADED.items():
        if module == name or module.startswith(name + "."):
            return spec
    return None


def _registrar(kind: str):
    if kind not in _KINDS:
        raise ValueError(f"unknown plug-in kind {kind!r}; kinds: {', '.join(GROUPS)}")
    return _KINDS[kind]


def from_entry_point(kind: str, name: str) -> bool:
    """Load the installed entry point ``name`` of ``kind``'s group; True if ``name`` is now registered."""
    registry, register = _registrar(kind)
    for point in importlib.metadata.entry_points(group=GROUPS[kind], name=name):
        try:
            obj = point.load()
        except Exception as exc:
            dist = point.dist.name if point.dist is not None else "an installed package"
            raise PluginError(
                f"the {kind} {name!r} comes from {dist} (entry point {point.value!r} in group {GROUPS[kind]!r}), "
                f"which failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        if name not in registry and not isinstance(obj, type(sys)):
            register(obj, name)
    return name in registry


def entry_point_names(kind: str) -> list[str]:
    """Names installed packages declare for ``kind`` (not loaded)."""
    return sorted({p.name for p in importlib.metadata.entry_points(group=GROUPS[kind])})


def _by_value(obj) -> bool:
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    return module is None or module.__name__ == "__main__" or getattr(module, "__spec__", None) is None


def snapshot() -> bytes:
    """What this process registered beyond the package, for a spawned worker: the plug-ins it
    loaded (re-imported there) and the classes defined in ``__main__`` (pickled by value)."""
    import cloudpickle

    by_value = []
    for kind, (registry, _) in _KINDS.items():
        for name, obj in registry.items():
            if not isinstance(obj, str) and _by_value(obj):
                by_value.append(cloudpickle.dumps((kind, name, obj)))
    return pickle.dumps({"plugins": list(_LOADED), "by_value": by_value})


def restore(blob: bytes | None) -> None:
    """Register in this (worker) process what :func:`snapshot` saw in its parent."""
    if not blob:
        return
    state = pickle.loads(blob)
    for spec in state["plugins"]:
        load(spec)
    for item in state["by_value"]:
        kind, name, obj = pickle.loads(item)
        registry, register = _registrar(kind)
        if name not in registry:
            register(obj, name)
