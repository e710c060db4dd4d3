"""The package's import graph: no cycles, one-way layers, no UI library in the core.

Read with ``ast`` from the source files (nothing is imported), counting module-level and
function-level imports alike: a lazy import hides a cycle from Python, not from the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "stabviz"

#: The layer map: group -> the groups it may import directly (and, through them, everything below).
#: A group is a module of stabviz, or a subpackage as a whole (cli, runs, ui, surrogates); imports
#: inside one group are free (the cycle check still applies). Adding a module means placing it here.
LAYERS: dict[str, set[str]] = {
    "shapes": set(),  # one record per surrogate shape: numpy and scipy only
    "config": {"shapes"},  # SHAPES is the shape table's keys
    "jsonsafe": set(),
    "memory": set(),  # memory estimates, checked before any allocation
    "safeio": set(),  # safe file output: no links, FIFOs or overwrites (every writer)
    "stabviz": {"config", "check"},  # the package's __init__ (re-exports config; check lazily)
    "surrogates": {"config", "jsonsafe", "shapes"},
    "laws": {"config"},  # the input weight laws and input drive: numpy/scipy only
    "conditions": {"config", "laws"},  # conditions I-IV (and the recurrent law I-II give): numpy only
    "neuron": {"config"},  # the LIF update rules L1-L3, once (numpy and torch)
    "weights": {"laws", "conditions"},
    "simulate": {"weights", "surrogates", "jsonsafe", "memory", "neuron", "variant_gain"},
    # simulate only lazily, for the measured voltage model (see LAZY_ONLY): theory stays torch-free
    "theory": {"laws", "conditions", "simulate", "surrogates", "jsonsafe", "calibration", "variant_gain"},
    "measured": {"theory", "neuron", "memory"},  # the measured map: theory beside its simulation
    "lif": {"weights", "surrogates", "neuron"},
    "variant_gain": {"lif", "laws", "conditions", "surrogates"},  # alif/cuba: measured 2×2-block gain and its theory
    "tasks": {"config"},
    "intervals": set(),  # means and 95% intervals over seeds, the group verdict: scipy only
    # the outcome model and the advice read from it: numpy only at import (simulate lazily, for the check)
    "outcomes": {"config", "jsonsafe", "theory", "simulate", "laws", "conditions"},
    "local_losses": {"lif"},  # DECOLLE-style local readouts and losses over a LIFNetwork
    "train": {"theory", "lif", "tasks", "memory", "intervals", "outcomes", "local_losses"},
    # the workers also call stabviz.train:run, by name through importlib (invisible to ast)
    "runs": {"stabviz", "train", "jsonsafe", "memory", "intervals"},
    "timing": {"lif", "train"},  # `bench lif`, `bench ensemble` and benchmarks/ share it
    "plots": set(),  # numpy and plotly: the figures, no stabviz science
    "calibration": set(),  # the stored residual bands: json only
    "theory_doc": set(),  # docs/theory.md by section (the Learn page)
    "paper_demos": {"config"},  # the paper's findings and the shipped measured maps
    # the replication study: arms of training runs, their analysis, figures and files
    "evidence": {"train", "runs", "plots", "simulate", "theory", "jsonsafe", "tasks", "config", "safeio", "outcomes"},
    # the user's own network: its layers, measured gain and re-measured suggestions beside the theory
    "check": {"theory", "surrogates", "config", "intervals", "jsonsafe", "lif", "memory"},
    "cli": {"theory", "train", "runs", "timing", "measured", "evidence", "safeio", "outcomes", "check"},
    "main": {"cli"},  # python -m stabviz
    "ui": {
        "theory",
        "conditions",
        "runs",
        "plots",
        "measured",
        "theory_doc",
        "neuron",
        "paper_demos",
        "evidence",
        "outcomes",
        "check",
    },
}

#: (group, group) edges allowed only inside a function, never at module level
LAZY_ONLY = {("theory", "simulate"), ("theory", "variant_gain"), ("outcomes", "simulate")}

UI_ONLY = {"streamlit"}
PLOTTING = {"plotly", "_plotly_utils"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def group_of(module: str) -> str:
    """The layer of a module: stabviz.theory -> theory, stabviz.cli.options -> cli, stabviz.__main__ -> main."""
    parts = module.split(".")
    if len(parts) == 1:
        return "stabviz"
    return "main" if parts[1] == "__main__" else parts[1]


def source_modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(tree: ast.Module, module: str, is_package: bool):
    """(dotted name, name imported from it or None, at module level?) for every import statement."""

    def visit(node: ast.AST, in_function: bool):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield alias.name, None, not in_function
            elif isinstance(child, ast.ImportFrom):
                base = _absolute(child, module, is_package)
                for alias in child.names:
                    yield base, alias.name, not in_function
            yield from visit(child, nested)

    yield from visit(tree, False)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _target(name: str, imported: str | None, modules: set[str]) -> str | None:
    """The stabviz module an import loads: ``from stabviz import theory`` -> stabviz.theory."""
    if imported and f"{name}.{imported}" in modules:
        return f"{name}.{imported}"
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph():
    """({module: {imported stabviz module: at module level?}}, {module: third-party top-level names})."""
    trees = source_modules()
    modules = set(trees)
    edges: dict[str, dict[str, bool]] = {m: {} for m in trees}
    external: dict[str, set[str]] = {m: set() for m in trees}
    for module, tree in trees.items():
        is_package = (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()
        for name, imported, top in _imports(tree, module, is_package):
            if name.split(".")[0] != "stabviz":
                external[module].add(name.split(".")[0])
                continue
            target = _target(name, imported, modules)
            if target and target != module:
                edges[module][target] = edges[module].get(target, False) or top
    return edges, external


def find_cycle(edges: dict[str, dict[str, bool]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (found := dfs(start)):
            return found
    return None


def below(group: str) -> set[str]:
    """Every group ``group`` may import: its LAYERS entry and, transitively, theirs."""
    seen: set[str] = set()
    todo = list(LAYERS[group])
    while todo:
        g = todo.pop()
        if g not in seen:
            seen.add(g)
            todo.extend(LAYERS[g])
    return seen


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_no_import_cycles(graph):
    edges, _ = graph
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_layer_map_itself_is_one_way():
    group_edges = {g: {d: True for d in deps} for g, deps in LAYERS.items()}
    assert set().union(*LAYERS.values()) <= set(LAYERS)
    cycle = find_cycle(group_edges)
    assert cycle is None, "LAYERS has a cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer(graph):
    edges, _ = graph
    unplaced = sorted(m for m in edges if group_of(m) not in LAYERS)
    assert not unplaced, f"place these modules in LAYERS (tests/test_imports.py): {unplaced}"


def test_every_import_goes_down_the_layers(graph):
    edges, _ = graph
    wrong = []
    for module, targets in sorted(edges.items()):
        src = group_of(module)
        for target, top in sorted(targets.items()):
            dst = group_of(target)
            if src == dst or src not in LAYERS:
                continue
            if dst not in below(src):
                wrong.append(f"{module} -> {target} ({src} may not import {dst})")
            elif top and (src, dst) in LAZY_ONLY:
                wrong.append(f"{module} -> {target} at module level ({src} imports {dst} only lazily)")
    assert not wrong, "imports against the layer map:\n" + "\n".join(wrong)


def test_streamlit_only_in_the_ui_and_plotly_only_in_plots_and_the_ui(graph):
    _, external = graph
    wrong = []
    for module, names in sorted(external.items()):
        if group_of(module) == "ui":
            continue
        banned = UI_ONLY | (set() if module == "stabviz.plots" else PLOTTING)
        wrong += [f"{module} imports {name}" for name in sorted(names & banned)]
    assert not wrong, "UI libraries in core modules:\n" + "\n".join(wrong)


def test_pages_never_import_the_router_or_an_entry_script(graph):
    # a page links to another through stabviz.ui.nav's page objects; importing the router (or the script
    # that starts it) from a page would run the dashboard inside a page
    edges, _ = graph
    entries = ("stabviz.ui.app", "stabviz.ui.launch")
    wrong = [
        f"{m} -> {t}"
        for m, targets in sorted(edges.items())
        if m.startswith("stabviz.ui.pages.")
        for t in targets
        if t == entries[0] or t.startswith(entries[1])
    ]
    assert not wrong, "pages importing the router or an entry script:\n" + "\n".join(wrong)


def test_the_graph_sees_function_level_and_relative_imports():
    tree = ast.parse("from . import b\ndef f():\n    from stabviz.c import d\n    import stabviz.e\n")
    found = list(_imports(tree, "stabviz.x.a", False))
    assert found == [("stabviz.x", "b", True), ("stabviz.c", "d", False), ("stabviz.e", None, False)]
    assert find_cycle({"a": {"b": False}, "b": {"c": False}, "c": {"a": True}}) == ["a", "b", "c", "a"]


def test_contributing_lists_every_layer():
    """CONTRIBUTING.md's layer map names every layer of LAYERS (the package's __init__ and __main__ aside),
    so a new module cannot land without a line saying what it is and what it may import."""
    import re

    text = (PACKAGE.parent / "CONTRIBUTING.md").read_text()
    first_column = " ".join(line.split("|")[1] for line in text.splitlines() if line.startswith("| `"))
    listed = set(re.findall(r"`([a-z_]+)/?`", first_column))
    missing = [layer for layer in LAYERS if layer not in listed | {"stabviz", "main"}]
    assert not missing, f"CONTRIBUTING.md's layer map lacks {missing}"
