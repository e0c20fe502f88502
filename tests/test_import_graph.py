"""The package's modules import each other without a cycle.

A cycle hidden inside a function (``def f(): from . import models``) still works at run
time, but it means two modules cannot be read, tested or moved apart; so every import
counts here: module level, inside functions, relative and absolute. The graph is read
from the source with ``ast`` (nothing is imported), the way grimp/import-linter read it:
``from . import x`` is an edge to the submodule ``x`` when there is one, else to the
package; ``from .a import b`` goes to ``a.b`` when that is a module, else to ``a``.
"""
from __future__ import annotations

import ast
from pathlib import Path

import wikiart_core

PACKAGE_DIR = Path(wikiart_core.__file__).resolve().parent


def module_name(path: Path, package_dir: Path) -> str:
    """``package_dir/sub/mod.py`` -> ``package.sub.mod``; an ``__init__.py`` names its package."""
    parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of ``known`` that one import statement of ``module`` loads."""
    if isinstance(node, ast.Import):
        targets = set()
        for alias in node.names:
            parts = alias.name.split(".")
            # `import a.b.c` loads a, a.b and a.b.c; the deepest one is the dependency.
            prefixes = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
            targets.update(next(([name] for name in prefixes if name in known), []))
        return targets
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base_parts = package[:len(package) - (node.level - 1)]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    targets = set()
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        if submodule in known:
            targets.add(submodule)
        elif base in known:
            targets.add(base)
    return targets


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the modules of the same package that it imports anywhere in its source."""
    sources = {module_name(path, package_dir): path for path in sorted(package_dir.rglob("*.py"))}
    known = set(sources)
    graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(node, module, path.name == "__init__.py", known)
        graph[module] = edges - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm):
    each is a set of modules that all reach each other; sorted lists of names."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(components)


def cycle_path(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One concrete cycle inside ``component``, as modules ending where it started."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:  # breadth first: the shortest way back to ``start``
        next_frontier = []
        for node in frontier:
            for successor in sorted(graph[node] & members):
                if successor == start:
                    return paths[node] + [start]
                if successor not in paths:
                    paths[successor] = paths[node] + [successor]
                    next_frontier.append(successor)
        frontier = next_frontier
    raise AssertionError(f"{component} is not a cycle")


def describe_cycles(graph: dict[str, set[str]]) -> str:
    return "\n".join(f"  {sorted(component)}: {' -> '.join(cycle_path(graph, component))}"
                     for component in cycles(graph))


def test_the_package_has_no_import_cycle():
    graph = import_graph(PACKAGE_DIR)
    assert "wikiart_core.models.backbones" in graph and len(graph) > 30
    found = cycles(graph)
    assert found == [], "import cycles (module-level and function-level imports):\n" + describe_cycles(graph)


def test_models_and_checkpoints_import_in_one_direction():
    graph = import_graph(PACKAGE_DIR)
    assert "wikiart_core.models" in graph["wikiart_core.checkpoint"]
    assert "wikiart_core.files" in graph["wikiart_core.models.backbones"]
    models = {name for name in graph if name.startswith("wikiart_core.models")}
    assert not any(edges - models - {"wikiart_core.files", "wikiart_core.config"}
                   for name, edges in graph.items() if name in models), \
        {name: sorted(graph[name] - models) for name in models}


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / "pkg" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_graph_sees_every_kind_of_import_and_finds_a_hidden_cycle(tmp_path):
    package = _write_package(tmp_path, {
        "__init__.py": "",
        "a.py": "def late():\n    from . import b\n",                # function level, `from . import submodule`
        "b.py": "from .sub.c import value\n",
        "sub/__init__.py": "from . import c\n",
        "sub/c.py": "import pkg.a\nvalue = 1\n",                       # absolute, back to the start
        "d.py": "from .sub import c\nfrom pkg import a\nimport os\n",  # outside the cycle; os is not ours
    })
    graph = import_graph(package)
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.sub.c"}, "pkg.sub": {"pkg.sub.c"},
                     "pkg.sub.c": {"pkg.a"}, "pkg.d": {"pkg.sub.c", "pkg.a"}}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert cycle_path(graph, ["pkg.a", "pkg.b", "pkg.sub.c"]) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    assert "pkg.a -> pkg.b -> pkg.sub.c -> pkg.a" in describe_cycles(graph)


def test_a_package_without_cycles_passes(tmp_path):
    package = _write_package(tmp_path, {"__init__.py": "from . import a\n", "a.py": "from . import b\n",
                                        "b.py": "import os\n"})
    assert cycles(import_graph(package)) == []
