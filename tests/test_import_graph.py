"""The packages' import graph: no cycles, and each layer imports only the layers below it.

The layers are the top-level folders, installed as `liftbench.<folder>`; module names here are
the installed ones (`liftbench.models.base`), and every project import must use them.

Every `import` statement counts, including those inside functions (a deferred import is still a
dependency); only `if TYPE_CHECKING:` blocks are left out. Layers: `geometry` and `leaderboard`
import no other package of the project; `models`, `losses` and `datamodules` import only
`geometry` (and `models` never Lightning); `bench` may import them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "datamodules", "geometry", "leaderboard", "losses", "models")
ALLOWED = {
    "geometry": set(), "leaderboard": set(), "models": {"geometry"}, "losses": {"geometry"},
    "datamodules": {"geometry"}, "bench": set(PACKAGES),
}


def _module_name(path: Path) -> str:
    parts = ["liftbench", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(path: Path, module: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    names = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names += [f"{source}.{a.name}" for a in node.names]
    return names


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (a name resolves to its longest module prefix)."""
    files = {_module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
             if ".venv" not in p.parts}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for name in _imported_names(path, module):
            while name and name not in files:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = import_graph()
    table = graph["liftbench.bench.commands.table"]
    assert len(graph) > 100 and "liftbench.leaderboard.tables" in table
    assert cycles(graph) == []


def test_layers_import_only_the_layers_below():
    wrong = []
    for module, imported in import_graph().items():
        layer = module.split(".")[1]
        wrong += [f"{module} -> {name}" for name in sorted(imported)
                  if name.split(".")[1] not in ALLOWED[layer] | {layer}]
    assert wrong == []


def test_every_project_import_uses_the_liftbench_namespace():
    """A bare `import models` would pick up a user's own `models` package, not ours."""
    bare = []
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            names = _imported_names(path, _module_name(path))
            bare += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in PACKAGES]
    assert bare == []


def test_models_never_import_lightning():
    for path in (ROOT / "models").rglob("*.py"):
        names = _imported_names(path, _module_name(path))
        assert not [n for n in names if n.split(".")[0] in ("lightning", "pytorch_lightning")], path
