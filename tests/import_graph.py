"""The import graph of ``src/coincast`` and of ``web/*.js``, read from the source (no imports run).

Every import counts, including those inside functions: a lazy import hides a cycle from
Python's loader but not from a reader, and the rule is about the reader.
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


def imports_of(name: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every coincast import in a module."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
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
