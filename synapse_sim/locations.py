"""Where synapse_sim finds things: shipped scenarios and learned rules, the notMNIST sample, the user's files.

One place, so that the package works the same from a checkout, an editable install and a
wheel in any folder. Nothing here writes inside the installed package: user files go to a
user folder (``$SYNAPSE_SIM_HOME``, else the platform's user data folder).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

SCENARIO_SUFFIX = ".toml"
HOME_ENV_VAR = "SYNAPSE_SIM_HOME"
NOTMNIST_ENV_VAR = "SYNAPSE_SIM_NOTMNIST"
CHECKOUT = Path(__file__).resolve().parents[1]


def scenario_folder() -> Path:
    """The shipped scenarios: ``synapse_sim/scenarios`` in a wheel, the checkout's ``scenarios/`` otherwise."""
    try:
        spec = importlib.util.find_spec("synapse_sim.scenarios")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return CHECKOUT / "scenarios"


def scenario_names() -> list[str]:
    return sorted(p.stem for p in scenario_folder().glob(f"*{SCENARIO_SUFFIX}"))


def find_scenario(name_or_path) -> Path | None:
    """A scenario file by path, else by shipped name (``decision_boundary_adaptive``, with or without .toml)."""
    path = Path(os.path.expanduser(str(name_or_path)))
    if path.is_file():
        return path
    if path.parent == Path(".") and path.stem in scenario_names():
        return scenario_folder() / f"{path.stem}{SCENARIO_SUFFIX}"
    return None


def scenario_summary(path) -> str:
    """The scenario's opening comment, in one line of at most 110 characters."""
    lines = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    if len(text) <= 110:
        return text
    return text[:109].rsplit(" ", 1)[0] + " …"


def user_folder() -> Path:
    """The user's synapse_sim folder: ``$SYNAPSE_SIM_HOME``, else the platform's user data folder."""
    if os.environ.get(HOME_ENV_VAR):
        return Path(os.path.expanduser(os.environ[HOME_ENV_VAR]))
    import platformdirs

    return platformdirs.user_data_path("synapse_sim", appauthor=False)


def user_policy_folder() -> Path:
    return user_folder() / "policies"


def learned_rule_folder() -> Path:
    """The learned rule files shipped with the package (``synapse_sim/rules/learned``)."""
    return Path(__file__).resolve().parent / "rules" / "learned"


def user_rule_folder() -> Path:
    """Where ``learn-rule --install NAME`` puts a learned rule file."""
    return user_folder() / "rules"


def learned_rule_names() -> list[str]:
    """Every learned rule file by the name a scenario gives it: shipped ones bare, the user's as ``user:NAME``."""
    shipped = sorted(p.stem for p in learned_rule_folder().glob(f"*{SCENARIO_SUFFIX}"))
    user = sorted(f"user:{p.stem}" for p in user_rule_folder().glob(f"*{SCENARIO_SUFFIX}"))
    return [*shipped, *user]


def find_rule_file(value, base: Path | None = None) -> Path | None:
    """A learned rule file: ``NAME`` (shipped), ``user:NAME`` (``learn-rule --install NAME``) or a path
    (relative to ``base``, the scenario's folder, if there is one there)."""
    value = str(value)
    if value.startswith("user:"):
        path = user_rule_folder() / f"{value.removeprefix('user:')}{SCENARIO_SUFFIX}"
        return path if path.is_file() else None
    shipped = learned_rule_folder() / f"{value}{SCENARIO_SUFFIX}"
    if "/" not in value and shipped.is_file():
        return shipped
    path = Path(os.path.expanduser(value))
    if base is not None and not path.is_absolute() and (base / path).is_file():
        return (base / path).resolve()
    return path.resolve() if path.is_file() else None


def notmnist_sample() -> Path | None:
    """The notMNIST data to use when none is named: ``$SYNAPSE_SIM_NOTMNIST``, else the sample kept
    beside a checkout (``../shared/data/notmnist``), else None."""
    if os.environ.get(NOTMNIST_ENV_VAR):
        return Path(os.path.expanduser(os.environ[NOTMNIST_ENV_VAR]))
    beside = CHECKOUT.parent / "shared" / "data" / "notmnist"
    if (CHECKOUT / "pyproject.toml").is_file() and beside.is_dir():
        return beside
    return None
