"""The package's floors: every module under sweeper/ is parsed, and its imports (at any depth,
inside functions too) must point down the layer order, never round a circle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sweeper"

# Lower layers may not import higher ones; folders in one layer may not import each other.
# The top-level modules sweeper/__init__.py and __main__.py stand outside the order.
LAYERS: list[set[str]] = [
    {"errors"},
    {"settings"},
    {"tasks", "stats", "storage"},
    {"study"},
    {"evaluation"},
    {"report"},
    {"worker"},
    {"cli"},
    {"api"},  # sweeper.run/load: the same calls as the CLI's (sweeper.cli.commands.run_study)
]
# Known exceptions, (importing module, imported module), each with why; none today.
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, *, module_level: bool = False, typing: bool = True) -> list[tuple[str, int]]:
    """(sweeper module imported, line) of every import in the module; with ``module_level``, only
    those that run when the module is imported (not inside functions); without ``typing``, not
    those under ``if TYPE_CHECKING:`` (annotations only: they never run)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if module_level and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if not typing and isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno) for a in child.names if a.name.split(".")[0] == "sweeper")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1] + ([base] if base else []))
                if base.split(".")[0] != "sweeper":
                    continue
                for alias in child.names:
                    # `from sweeper.tasks import references` imports a module, not a name.
                    full = f"{base}.{alias.name}"
                    found.append((full if full in MODULES else base, child.lineno))
            visit(child)

    visit(tree)
    return list(dict.fromkeys(found))  # `from x import a, b` once


def _folder(module: str) -> str | None:
    """The folder (or top-level module) a module belongs to; None for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _layer(folder: str) -> int | None:
    return next((i for i, layer in enumerate(LAYERS) if folder in layer), None)


def test_every_folder_has_a_layer() -> None:
    folders = {_folder(m) for m in MODULES} - {None, "__main__"}
    assert not [f for f in folders if _layer(f) is None], "add the folder to LAYERS"


def test_the_task_contract_imports_only_settings_and_errors() -> None:
    """A task author reads sweeper/tasks/ without meeting a study or a worker."""
    wrong = [f"{m} imports {imported} (line {line})"
             for m, path in MODULES.items() if _folder(m) == "tasks"
             for imported, line in _imports(m, path)
             if _folder(imported) not in ("tasks", "settings", "errors")]
    assert not wrong, "\n".join(wrong)


def test_imports_point_down_the_layers() -> None:
    wrong = []
    for module, path in MODULES.items():
        here = _folder(module)
        if here in (None, "__main__"):
            continue
        for imported, line in _imports(module, path):
            there = _folder(imported)
            if there is None or there == here or (module, imported) in KNOWN:
                continue
            if _layer(there) >= _layer(here):  # type: ignore[operator]
                wrong.append(f"{module} (layer {_layer(here)}: {here}) imports {imported} "
                             f"(layer {_layer(there)}: {there}) at line {line}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    """No circle among sweeper's modules, counting what runs at import time; none counting the
    imports inside functions too; and none counting the imports for annotations only (``if
    TYPE_CHECKING:``): they never run, but a circle through them is still two modules that each
    need the other to be read (``study.adaptive`` once named ``SweepConfig`` while ``study.config``
    called ``adaptive.bracket_runs``; the designs, ``study.designs``, now stand between them)."""
    for module_level, typing in ((True, False), (False, False), (False, True)):
        graph = {m: {i for i, _ in _imports(m, p, module_level=module_level, typing=typing) if i in MODULES and i != m}
                 for m, p in MODULES.items()}
        # A package's __init__ re-exporting its own modules is not a circle through them.
        graph = {m: {i for i in deps if not m.startswith(i + ".")} for m, deps in graph.items()}
        cycle = _find_cycle(graph)
        kind = ("at import time" if module_level else "counting imports inside functions"
                + (" and for annotations" if typing else ""))
        assert cycle is None, f"import cycle {kind}: " + " -> ".join(cycle or [])


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
