"""The package's layout as DESIGN.md draws it: no import cycle, no module reaching into
another's private names, dependencies pointing one way, and game modules of one job each."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "handshake_game"
MAX_GAME_MODULE_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Every import in the file (also inside functions and TYPE_CHECKING blocks): the module
    imported, resolved to an absolute name, and the names taken from it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.append((base, tuple(alias.name for alias in node.names)))
    return found


def graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package modules it imports (``from pkg import mod`` counts as ``pkg.mod``)."""
    modules = {module_name(p): p for p in root.rglob("*.py")}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, names in imports(path):
            for candidate in [f"{target}.{n}" for n in names] + [target]:
                if candidate in modules and candidate != name:
                    edges[name].add(candidate)
                    break
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), ignoring a package's
    ``__init__`` re-exporting its own modules."""
    def real(source: str, target: str) -> bool:
        return not target.startswith(source + ".")

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if not real(node, target):
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_in_the_package() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_catches_a_planted_cycle() -> None:
    edges = graph()
    edges["handshake_game.game.state"].add("handshake_game.game.catalog")  # catalog -> ... -> state
    assert any("handshake_game.game.state" in group and "handshake_game.game.catalog" in group
               for group in cycles(edges))


def test_no_module_imports_another_modules_private_names() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for target, names in imports(path):
            if target.startswith("handshake_game"):
                offenders += [f"{module_name(path)}: {target}.{n}" for n in names
                              if n.startswith("_") and not n.startswith("__")]
    assert offenders == []


@pytest.mark.parametrize(("layer", "forbidden"), [
    ("handshake_game.tls", ("handshake_game.game", "handshake_game.server", "handshake_game.store",
                            "asyncio", "websockets", "sqlmodel", "sqlalchemy")),
    ("handshake_game.game", ("handshake_game.server", "handshake_game.store", "handshake_game.bots",
                             "asyncio", "websockets", "sqlmodel", "sqlalchemy")),
])
def test_dependencies_point_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if not module_name(path).startswith(layer):
            continue
        wrong += [f"{module_name(path)} imports {target}" for target, _ in imports(path)
                  if target.startswith(forbidden)]
    assert wrong == []


def test_game_modules_stay_small() -> None:
    long = {path.name: n for path in (PACKAGE / "game").glob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_GAME_MODULE_LINES}
    assert long == {}
