"""How the house is built: import cycles, imports that run back up, private names imported across modules,
long modules and functions, and where stage names are spelled.

    python scripts/house.py          # the figures, then every violation; exit 1 when there is one

The targets (issue 20): no import cycle (lazy imports included), the plugin API (``benchmark``,
``benchmark.interfaces``, ``benchmark.hookspecs``) importing no built-in plugin package, no private name
imported from another module, no module over 400 lines, no function over 60, and the stages' names spelled in
``benchmark/stages/names.py`` only.  ``tests/test_house.py`` holds the project to them.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOTS = ("benchmark", "experts", "spotters")
PLUGIN_API = {"benchmark", "benchmark.interfaces", "benchmark.hookspecs"}
BUILTIN_PLUGINS = ("experts", "spotters")
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60
STAGE_WORDS = ("train-expert", "extract-features", "train-spotter")  # names no other text uses
NAMES_MODULE = "benchmark.stages.names"


def modules(root: Path) -> dict[str, Path]:
    out = {}
    for top in ROOTS:
        for path in sorted((root / top).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imported(module: str, path: Path, node: ast.AST, known: dict) -> list[tuple[str, str | None]]:
    """``(module imported, name imported from it or None)`` for one import statement."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        keep = len(parts) - node.level + (1 if path.name == "__init__.py" else 0)
        base = ".".join(parts[:keep] + ([node.module] if node.module else []))
    return [((f"{base}.{a.name}" if f"{base}.{a.name}" in known else base), a.name) for a in node.names]


def owner(name: str, known: dict) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def survey(root: Path) -> dict:
    known = modules(root)
    edges: dict[str, set[str]] = {m: set() for m in known}
    report = {"private": [], "upward": [], "long_modules": [], "long_functions": [], "stage_names": []}
    for module, path in known.items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            report["long_modules"].append(f"{path} ({lines} lines)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    report["long_functions"].append(f"{path}:{node.lineno} {node.name} ({length} lines)")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and module != NAMES_MODULE:
                if node.value.split(":")[0] in STAGE_WORDS:
                    report["stage_names"].append(f"{path}:{node.lineno} {node.value!r}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for target, name in imported(module, path, node, known):
                    found = owner(target, known)
                    if found is None or found == module:
                        continue
                    if not module.startswith(found + "."):  # a package's own __init__ is not a cycle
                        edges[module].add(found)
                    if name and name.startswith("_") and not name.startswith("__"):
                        report["private"].append(f"{module} imports {found}.{name}")
                    if module in PLUGIN_API and found.split(".")[0] in BUILTIN_PLUGINS:
                        report["upward"].append(f"{module} imports {found}")
    report["cycles"] = cycles(edges)
    report["modules"] = len(known)
    report["root_modules"] = sorted(
        m for m, path in known.items() if path.parent == root / "benchmark" and path.name != "__init__.py"
    )
    report["depth"] = max(m.count(".") for m in known) + 1
    return report


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
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
                    work.append((child, iter(sorted(edges.get(child, ())))))
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


VIOLATIONS = ("cycles", "upward", "private", "long_modules", "long_functions", "stage_names")


def main() -> int:
    report = survey(Path(__file__).resolve().parents[1])
    root = ", ".join(report["root_modules"])
    print(f"{report['modules']} modules, {report['depth']} levels deep; benchmark/ root: {root}")
    bad = 0
    for kind in VIOLATIONS:
        print(f"{kind}: {len(report[kind])}")
        for item in report[kind]:
            print(f"  {item}")
        bad += len(report[kind])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
