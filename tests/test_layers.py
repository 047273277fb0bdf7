"""The import picture of the package: imports point down the layers of docs/design.md, the
HTTP engine imports nothing of the application, and no module imports itself in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dalleserver"

# Top to bottom; a part may import parts below it (or itself), never above.
LAYERS = [
    {"cli", "cli_batch", "__main__"},
    {"service"},
    {"web"},
    {"httpd"},
    {"runtime", "speech"},
    # cluster mode: the jobs' and the board's interfaces over Redis
    {"cluster", "batches"},
    {"jobs"},
    {"imaging", "provider", "ens", "webhooks", "records", "series_store"},
    {"resilience", "observability", "dress", "packaging"},
    # costs: plain data and bookkeeping the configuration validates against
    {"storage", "picture_index", "picture_search", "folder_index", "config", "durations",
     "address", "costs",
     "__init__"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """``dalleserver.web.views.dalle`` -> ``web``; ``dalleserver`` -> ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def _module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(every dalleserver module imported anywhere, those imported at module level)."""
    everywhere: set[str] = set()
    top: set[str] = set()

    def visit(nodes, at_top: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _is_type_checking(node):
                continue  # annotations only: no import at run time
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from a.b import c": the module a.b.c when c is one, else a.b (resolved
                # against the known modules in _graph)
                names = [f"{node.module}:{a.name}" for a in node.names]
            names = [n for n in names if n.split(":")[0] == "dalleserver"
                     or n.startswith("dalleserver.")]
            everywhere.update(names)
            if at_top:
                top.update(names)
            for child in ast.iter_child_nodes(node):
                nested_top = at_top and not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                visit([child], nested_top)

    visit(tree.body, True)
    return everywhere, top


def _graph():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        modules[_module_name(path)] = _imports(ast.parse(path.read_text(encoding="utf-8")))
    known = set(modules)

    def resolve(names: set[str]) -> set[str]:
        out = set()
        for name in names:
            package, _, attr = name.partition(":")
            out.add(f"{package}.{attr}" if f"{package}.{attr}" in known else package)
        return {n for n in out if n in known}

    return {name: (resolve(every), resolve(top)) for name, (every, top) in modules.items()}


def test_imports_point_down_the_layers():
    wrong = []
    for module, (imports, _) in _graph().items():
        for target in imports:
            source_part, target_part = _part(module), _part(target)
            assert source_part in RANK, f"{module} is in no layer of this test"
            if RANK[target_part] < RANK[source_part]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_engine_imports_nothing_of_the_application():
    for module, (imports, _) in _graph().items():
        if _part(module) == "httpd":
            outside = {i for i in imports if _part(i) != "httpd" and i != "dalleserver"}
            assert not outside, f"{module} imports {sorted(outside)}"


def test_no_module_level_import_cycle():
    graph = {name: top - {name} for name, (_, top) in _graph().items()}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in graph.get(node, ()):
            # a package imports its own submodules through __init__: not a cycle
            if target.startswith(node + "."):
                continue
            if state.get(target) == 1:
                cycle = trail[trail.index(target):] + [target] if target in trail else [target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
