"""Resolving a reference to the task it names: a ``.py`` file, a module (``package.module`` or
``package.module:Name``), or a registered entry point (``sweeper.tasks.entry_points``). A module or
file holds a ``Task`` subclass or instance; when it holds several, the reference names one with
``:Name``. Each resolver returns the task unvalidated, with the file to name in messages."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from sweeper.errors import TaskError
from sweeper.tasks.api import Task
from sweeper.tasks.entry_points import ENTRY_POINT_GROUP, builtin_names, entry_points, unregistered_study
from sweeper.tasks.where import describe_exception, import_errors, shown


@dataclass(frozen=True)
class Found:
    """A task as its reference resolved, before it is validated."""

    task: Task
    source: Path | None  # the file the reference names (or the module's file)
    where: str  # the file to name in messages


def is_file_reference(reference: str) -> bool:
    return reference.endswith(".py") or os.sep in reference or "/" in reference or ".py:" in reference


def from_file(reference: str, search_path: Sequence[Path]) -> Found:
    module_part, _, attribute = reference.rpartition(":") if ".py:" in reference else (reference, "", "")
    path = _find_file(module_part, search_path)
    with import_errors(shown(path)):
        module = _import_file(path)
    return Found(task_in(module, attribute or None, shown(path)), path, shown(path))


def _find_file(given: str, search_path: Sequence[Path]) -> Path:
    candidate = Path(given).expanduser()
    tried = [candidate] if candidate.is_absolute() else [Path.cwd() / candidate, *(Path(p) / candidate for p in search_path)]
    for path in tried:
        if path.is_file():
            return path.resolve()
    where = ", ".join(str(p) for p in tried)
    folder = (Path.cwd() / candidate).parent if not candidate.is_absolute() else candidate.parent
    # Stems compared: the shared ".py" would make any two short names look alike.
    nearby = {p.stem: p.name for p in folder.glob("*.py")} if folder.is_dir() else {}
    close = difflib.get_close_matches(candidate.stem, list(nearby), n=1, cutoff=0.7)
    if close:
        raise TaskError(f"task file {given} not found: did you mean {Path(given).parent / nearby[close[0]]}?")
    raise TaskError(
        f"task file {given} not found (looked at {where}): check the path, or add its folder to SWEEPER_TASK_PATH"
    )


def _import_file(path: Path) -> ModuleType:
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    name = f"sweeper_task_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise TaskError(f"task file {shown(path)} cannot be loaded as Python: name it with a .py suffix")
    module = importlib.util.module_from_spec(spec)
    # Registered first, as an import would, so dataclasses and pickling in the file work; its folder
    # goes on the path so that it can import the modules beside it.
    sys.modules[name] = module
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def from_module(reference: str, search_path: Sequence[Path]) -> Found:
    module_name, _, attribute = reference.partition(":")
    _extend_path(search_path)
    module = _import_module(reference, module_name)
    source = Path(module.__file__).resolve() if getattr(module, "__file__", None) else None
    where = shown(source) if source else f"module {module_name}"
    return Found(task_in(module, attribute or None, where), source, where)


def _import_module(reference: str, module_name: str) -> ModuleType:
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        if unregistered_study(reference):
            raise TaskError(f"built-in task {reference!r} is not registered: reinstall sweeper (pip install -e .)")
        found = entry_points()  # reads the installed metadata and the checkout's pyproject.toml once
        builtins = builtin_names(found)
        others = [name for name in found if name not in builtins]
        close = difflib.get_close_matches(reference, [*builtins, *others], n=1)
        if close:
            raise TaskError(f"unknown task {reference!r}: did you mean {close[0]}? (`sweeper tasks` lists the tasks)")
        raise TaskError(
            f"unknown task {reference!r}: not a built-in task ({', '.join(builtins)}), an installed "
            f"entry point ({', '.join(others) or 'none installed'}), a .py file or an importable "
            "module; give a path such as ./my_task.py, or put its folder on SWEEPER_TASK_PATH"
        )
    where = shown(Path(spec.origin)) if spec.origin and spec.origin not in ("built-in", "frozen") else module_name
    with import_errors(where):
        return importlib.import_module(module_name)


def from_entry_point(reference: str, entry: metadata.EntryPoint, origin: str) -> Found:
    module_name = entry.value.partition(":")[0].strip()
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    where = shown(Path(spec.origin)) if spec is not None and spec.origin else f"module {module_name}"
    with import_errors(where):
        try:
            obj = entry.load()
        except (AttributeError, ModuleNotFoundError) as exc:
            raise TaskError(
                f"entry point {reference!r} ({origin}) names {entry.value}, which does not exist "
                f"({type(exc).__name__}: {exc}): fix [project.entry-points.\"{ENTRY_POINT_GROUP}\"] in its "
                "pyproject.toml and reinstall it"
            ) from None
    module = sys.modules.get(module_name)
    source = Path(module.__file__).resolve() if module is not None and getattr(module, "__file__", None) else None
    return Found(as_task(obj, entry.value, where), source, where)


def _extend_path(folders: Sequence[Path]) -> None:
    """Modules are also looked up in SWEEPER_TASK_PATH and the working directory (kept on the path
    afterwards: the task's own lazy imports need it too)."""
    for folder in [*map(str, folders), os.getcwd()]:
        if folder not in sys.path:
            sys.path.append(folder)


def task_in(module: ModuleType, attribute: str | None, where: str) -> Task:
    """The task a module holds: the named attribute, else its only Task subclass or instance."""
    if attribute:
        if not hasattr(module, attribute):
            raise TaskError(f"{where} has no {attribute!r}: name a Task subclass or instance defined in it")
        return as_task(getattr(module, attribute), attribute, where)
    found: dict[str, Any] = {}
    for key, value in vars(module).items():
        if isinstance(value, Task):
            found[key] = value
        elif inspect.isclass(value) and issubclass(value, Task) and value.__module__ == module.__name__:
            found[key] = value
    # An instance stands for its class: `class Digits(Task)` plus `task = Digits()` is one task.
    instance_classes = {type(v) for v in found.values() if isinstance(v, Task)}
    found = {k: v for k, v in found.items() if not (inspect.isclass(v) and v in instance_classes)}
    if not found:
        raise TaskError(
            f"{where} defines no sweeper task: subclass sweeper.Task there (see README, 'Your own model')"
        )
    if len(found) > 1:
        names = ", ".join(sorted(found))
        raise TaskError(f"{where} defines several tasks ({names}): name one, e.g. {where}:{sorted(found)[0]}")
    ((key, value),) = found.items()
    return as_task(value, key, where)


def as_task(obj: Any, name: str, where: str) -> Task:
    if inspect.isclass(obj) and issubclass(obj, Task):
        try:
            return obj()
        except Exception as exc:
            raise TaskError(f"{where}: {name}() cannot be created: {describe_exception(exc)}") from None
    if isinstance(obj, Task):
        return obj
    raise TaskError(f"{where}: {name} is a {type(obj).__name__}, not a sweeper Task: subclass sweeper.Task")
