"""How cvkit's modules import each other, checked on the source rather than left to habit.

- cvkit's own modules are imported at the top of a module. An import inside a function is kept only where it
  defers a heavy third-party dependency (the modules ruff's TID253 bans at module level in the CLI, listed in
  pyproject.toml): the imported cvkit module loads one of them when it is imported. The command modules
  (``cvkit.cli.*``) and the package's public API (``cvkit/__init__.py``) import the library when a command runs,
  so that ``cvkit --help`` loads typer and the command modules only.
- No import cycles between cvkit's modules, whether the imports sit at the top or inside functions.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "src"
#: modules that import the library on use by design (see the module docstring)
IMPORTS_ON_USE = ("cvkit", "cvkit.cli")


def heavy_modules() -> frozenset[str]:
    """The heavy third-party modules: those pyproject.toml bans at module level (ruff TID253)."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    listed = re.search(r"banned-module-level-imports\s*=\s*\[([^\]]*)\]", text)
    assert listed, "pyproject.toml lists no banned-module-level-imports"
    return frozenset(re.findall(r'"([^"]+)"', listed.group(1)))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted((SOURCE / "cvkit").rglob("*.py"))}


def imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement names: ``from cvkit.a import b`` is ``cvkit.a.b`` when that is a module."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]


def own_module(name: str) -> str | None:
    """The cvkit module ``name`` is or lies in (None for another package)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def top_level_statements(tree: ast.Module) -> list[ast.stmt]:
    """Statements that run on import: the module's, and those of its top-level ``if``/``try`` blocks."""
    found: list[ast.stmt] = []
    for statement in tree.body:
        found.append(statement)
        if isinstance(statement, (ast.If, ast.Try)):
            handlers = getattr(statement, "handlers", [])
            blocks = [statement.body, statement.orelse] + [handler.body for handler in handlers]
            found += [inner for block in blocks for inner in block]
    return found


@cache
def parsed() -> dict[str, tuple[set[str], set[str], list[tuple[ast.stmt, list[str]]]]]:
    """Per module: the cvkit modules and the third-party top-level packages it imports when imported, and its
    imports inside functions (optional ones, in a ``try`` block, left out)."""
    result = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        at_top = {id(statement) for statement in top_level_statements(tree)}
        optional = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.Try) for inner in node.body}
        own, third_party, deferred = set(), set(), []
        for node in ast.walk(tree):
            future = isinstance(node, ast.ImportFrom) and node.module == "__future__"
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or future:
                continue
            names = imported(module, node)
            if id(node) in at_top:
                own.update(found for name in names if (found := own_module(name)) and found != module)
                third_party.update(name.split(".")[0] for name in names if not name.startswith("cvkit"))
            elif id(node) not in optional:
                deferred.append((node, names))
        result[module] = (own, third_party, deferred)
    return result


@cache
def loads_heavy(module: str) -> bool:
    """Whether importing ``module`` imports a heavy third-party module (through its own top-level imports too)."""
    seen: set[str] = set()
    pending = [module]
    heavy = heavy_modules()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        own, third_party, _ = parsed()[current]
        if third_party & heavy:
            return True
        parents = [".".join(current.split(".")[:i]) for i in range(1, current.count(".") + 1)]
        pending += list(own) + [parent for parent in parents if parent in MODULES]
    return False


def test_own_modules_are_imported_at_the_top_unless_they_load_a_heavy_dependency():
    misplaced = []
    for module, (_own, _third_party, deferred) in parsed().items():
        if module in IMPORTS_ON_USE or module.startswith("cvkit.cli."):
            continue
        for node, names in deferred:
            targets = {found for name in names if (found := own_module(name)) and found != module}
            if targets and not any(loads_heavy(target) for target in targets):
                where = f"{MODULES[module].relative_to(REPO)}:{node.lineno}"
                misplaced.append(f"{where} imports {', '.join(sorted(targets))}")
    assert not misplaced, "import these at the top of the module:\n" + "\n".join(misplaced)


def test_no_import_cycles_between_cvkit_modules():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, (own, _third_party, deferred) in parsed().items():
        graph[module] |= own
        for _node, names in deferred:
            graph[module].update(found for name in names if (found := own_module(name)) and found != module)
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(cycle) for cycle in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of more than one module that import each other, directly or around a loop (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_checks_see_a_misplaced_import_and_a_cycle():
    """The rules catch what they are for: a light module imported inside a function, and a loop of imports."""
    assert not loads_heavy("cvkit.errors")
    assert loads_heavy("cvkit.stats.tables")  # numpy at its top
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_one_definition_per_public_class_name():
    """A class (or a type alias such as ``Job = tuple[...]``) name means one thing across cvkit."""
    defined: dict[str, list[str]] = defaultdict(list)
    for module, path in MODULES.items():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef):
                name = node.name
            elif (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and isinstance(node.value, ast.Subscript)
                and node.targets[0].id[:1].isupper()
                and not node.targets[0].id.isupper()
            ):
                name = node.targets[0].id
            else:
                continue
            if not name.startswith("_"):
                defined[name].append(module)
    twice = {name: modules for name, modules in defined.items() if len(modules) > 1}
    assert not twice, f"one name, several definitions: {twice}"
