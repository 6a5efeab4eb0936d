"""The package's shape: stages import downward, so the import graph has no cycle.

Every import counts, including the ones inside functions (a function-level import that closes
a cycle is the same tangle, only deferred); `if TYPE_CHECKING:` blocks do not.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import storyboard

ROOT = Path(storyboard.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["storyboard", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


@functools.cache  # read once for the three tests: no test changes it
def import_graph() -> dict[str, frozenset[str]]:
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                if target in files and target != name:
                    graph[name].add(target)
    return {name: frozenset(deps) for name, deps in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _is_package_reexport(a: str, b: str) -> bool:
    # A package's __init__ re-exporting its own submodules is not a layering edge.
    return b.startswith(a + ".")


def test_the_package_has_no_import_cycle():
    graph = {m: {t for t in deps if not _is_package_reexport(m, t) and not _is_package_reexport(t, m)}
             for m, deps in import_graph().items()}
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_graph_sees_real_edges():
    graph = import_graph()
    assert "storyboard.compiler.check" in graph["storyboard.api"]
    assert "storyboard.language.model" in graph["storyboard.language.parser"]


def test_stages_never_import_the_pipeline_or_the_cli():
    graph = import_graph()
    for module, deps in graph.items():
        # the applications above the pipeline: the command line and the language server (lsp)
        if module.startswith(("storyboard.cli", "storyboard.api", "storyboard.testing", "storyboard.__main__",
                              "storyboard.lsp")):
            continue
        assert not {d for d in deps if d.startswith(("storyboard.cli", "storyboard.api"))}, module
