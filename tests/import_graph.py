"""The import graphs of ``src/coincast`` and ``web/*.js``, read from the source (no imports run).

Every import counts, including those inside functions: a lazy import hides a cycle from
Python's loader but not from a reader, and the rule is about the reader. Imports under
``if TYPE_CHECKING:`` never run, so they are left out of the graph (a type-only import is
how a module names a type without depending on its module at run time); the private-name
and framework checks read them too, since a reader sees them all the same.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
WEB = SRC / "coincast" / "web"


def module_name(path: Path) -> str:
    parts = path.with_suffix("").relative_to(SRC).parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted((SRC / "coincast").rglob("*.py"))}


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(range(sub.lineno, (sub.end_lineno or sub.lineno) + 1))
    return lines


def imports_of(
    name: str, path: Path, *, type_checking: bool = False
) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every coincast import in a module.

    ``type_checking`` includes the imports under ``if TYPE_CHECKING:``.
    """
    tree = ast.parse(path.read_text())
    skip = set() if type_checking else _type_checking_lines(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "coincast":
                yield target, [a.name for a in node.names], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "coincast":
                    yield alias.name, [], node.lineno


def python_graph() -> dict[str, set[str]]:
    """module → the coincast modules it imports (``from pkg import mod`` counts as pkg.mod)."""
    modules = python_modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, names, _ in imports_of(name, path):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            for dep in subs or [target]:
                if dep in modules and dep != name:
                    graph[name].add(dep)
    return graph


def third_party_imports(path: Path) -> Iterator[tuple[str, int]]:
    """(top-level package, line) for every absolute non-coincast import, type-only ones too."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for full in names:
            top = full.split(".")[0]
            if top != "coincast":
                yield top, node.lineno


def is_private(name: str) -> bool:
    """``_name`` is private to its module; ``__version__``-style dunders are public."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports() -> list[str]:
    """``module:line imports _name from other`` for each private name taken across modules."""
    found = []
    for name, path in python_modules().items():
        for target, names, line in imports_of(name, path, type_checking=True):
            for taken in names:
                if is_private(taken) and target != name:
                    found.append(f"{name}:{line} imports {taken} from {target}")
    return found


def package_of(module: str) -> str:
    """The layer a module belongs to: its package under coincast (``coincast.model.fast.x`` →
    ``model``), or the module's own name for a top-level module (``api``, ``errors``), or
    ``coincast`` for the package's ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "coincast"


def package_graph(graph: dict[str, set[str]]) -> dict[tuple[str, str], list[str]]:
    """(package, package it imports) → the module imports that make that edge, as
    ``a -> b`` strings, so a failure can name them."""
    edges: dict[tuple[str, str], list[str]] = {}
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            a, b = package_of(module), package_of(dep)
            if a != b:
                edges.setdefault((a, b), []).append(f"{module} -> {dep}")
    return edges


_JS_IMPORT = re.compile(
    r"""(?:import|export)\s[^'"]*?from\s*['"](\./[\w.-]+)['"]|import\(\s*['"](\./[\w.-]+)['"]"""
)


def js_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(WEB.glob("*.js")):
        deps = set()
        for m in _JS_IMPORT.finditer(path.read_text()):
            deps.add((m.group(1) or m.group(2))[2:])
        graph[path.name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out
