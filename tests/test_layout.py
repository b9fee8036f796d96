"""The architecture holds: no import cycles; the engine never names a rule; the core never imports an interface."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "synapse_sim"
INTERFACES = {"synapse_sim.cli", "synapse_sim.runner", "synapse_sim.dashboard", "synapse_sim.app", "synapse_sim.plots"}
SHIPPED_RULES = {"synapse_sim.rules.synaptic_rl", "synapse_sim.rules.spsa", "synapse_sim.rules.node_perturbation"}


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def import_graph() -> nx.DiGraph:
    """Module -> module it imports (top-level and function-level imports alike)."""
    mods = modules()
    graph = nx.DiGraph()
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                targets = [target, *(f"{target}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            graph.add_edges_from((name, t) for t in targets if t in mods and t != name)
    return graph


def area(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_no_import_cycles_between_modules_or_sub_packages():
    graph = import_graph()
    assert not list(nx.simple_cycles(graph))
    areas = nx.DiGraph(
        (area(a), area(b)) for a, b in graph.edges if area(a) != area(b) and "synapse_sim" not in (area(a), area(b))
    )
    assert not list(nx.simple_cycles(areas))


def test_the_engine_names_no_rule_and_the_core_no_interface():
    graph = import_graph()
    for module in graph:
        imported = set(graph.successors(module))
        if module.startswith("synapse_sim.engine"):
            assert not {m for m in imported if any(m.startswith(r) for r in SHIPPED_RULES)}, module
        if module.startswith(("synapse_sim.engine", "synapse_sim.rules", "synapse_sim.tasks")):
            assert not {m for m in imported if any(m.startswith(i) for i in INTERFACES)}, module


def test_importing_any_module_leaves_the_users_global_state_alone(tmp_path):
    """No module picks a matplotlib backend, changes the working folder or writes files when imported."""
    code = f"""
import os, pkgutil, importlib, matplotlib
matplotlib.use("svg")
import synapse_sim
for info in pkgutil.walk_packages(synapse_sim.__path__, "synapse_sim."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert os.getcwd() == {str(tmp_path)!r}, os.getcwd()
"""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []
