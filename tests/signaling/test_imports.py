"""The realtime server's modules import each other without a circle.

Every import counts: at module level, under ``TYPE_CHECKING`` and inside functions. A
circle (``app`` importing the handlers for its routes, the handlers importing ``app`` for
its type) means neither side can be read, tested or replaced without the other; handlers
get what they need through Tornado's ``initialize()`` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "signaling"


def _imports(path: Path) -> set[str]:
    """The ``signaling`` modules ``path`` imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "signaling" and len(parts) > 1 and (PACKAGE / f"{parts[1]}.py").exists():
                found.add(parts[1])
    found.discard(path.stem)
    return found


def _graph() -> dict[str, set[str]]:
    return {p.stem: _imports(p) for p in sorted(PACKAGE.glob("*.py"))}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (as a path that returns to its start), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return None
        for dep in sorted(graph.get(module, ())):
            found = visit(dep, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    for module in graph:
        found = visit(module, [])
        if found:
            return found
    return None


def test_no_module_of_signaling_imports_itself_back() -> None:
    graph = _graph()
    assert "sprint" in graph["app"] and "ingest" in graph["app"]  # the graph is read at all
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycle({"app": {"sprint"}, "sprint": {"node"}, "node": {"app"}}) == [
        "app", "sprint", "node", "app"]
    assert _cycle({"app": {"sprint", "node"}, "sprint": {"node"}, "node": set()}) is None
