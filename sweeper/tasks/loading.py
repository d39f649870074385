"""Finding a task by the reference a user gives, and validating it once, when it is loaded.

A reference is one of:

- a built-in name (``cifar10``, ``librispeech``, ``imdb``);
- the name of an entry point that an installed package registers in the ``sweeper.tasks`` group;
- a path to a ``.py`` file (``./my_task.py``), relative to the working directory or to a folder of
  ``SWEEPER_TASK_PATH``;
- an importable module, ``package.module``, or one object in it, ``package.module:Name`` (the
  working directory and ``SWEEPER_TASK_PATH`` are searched too).

A module or file holds a ``Task`` subclass or instance; when it holds several, the reference names
one with ``:Name``. Every problem (a syntax error, an import error, a missing method, a wrong
attribute) is one ``TaskError`` line naming the file. The study stores the reference and a
fingerprint of the task's source, and a worker whose code differs refuses that study.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from sweeper.errors import SweeperError, TaskError
from sweeper.tasks.api import Objective, Option, Task, TaskDefaults

BUILTIN: dict[str, str] = {
    "cifar10": "studies.cifar10:Cifar10",
    "librispeech": "studies.librispeech:LibriSpeech",
    "imdb": "studies.imdb:Imdb",
}
ENTRY_POINT_GROUP = "sweeper.tasks"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_SWEEPER_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class LoadedTask:
    """A validated task, with where it came from."""

    task: Task
    reference: str
    origin: str  # "built-in", "entry point of <dist>", "module" or "file"
    source: Path | None  # the file the reference names (or the module's file)
    fingerprint: str

    @property
    def where(self) -> str:
        """The file to name in messages, relative to the working directory when inside it."""
        if self.source is None:
            return f"task {self.reference!r}"
        return _shown(self.source)

    @property
    def name(self) -> str:
        return self.task.name


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# Tasks loaded by this process, by (reference, working directory, search path): like Python's own
# module cache, a task is imported and validated once per process.
_LOADED: dict[tuple[str, str, tuple[str, ...]], LoadedTask] = {}


def load_task(reference: str, search_path: Sequence[Path] = ()) -> LoadedTask:
    """The task a reference names, validated; ``TaskError`` (one line) otherwise."""
    key = (reference.strip(), os.getcwd(), tuple(map(str, search_path)))
    if key not in _LOADED:
        _LOADED[key] = _load(key[0], search_path)
    return _LOADED[key]


def _load(reference: str, search_path: Sequence[Path]) -> LoadedTask:
    if not reference:
        raise TaskError("no task given: name a built-in task, a .py file or a module (see `sweeper studies`)")
    if reference.endswith(".py") or os.sep in reference or "/" in reference or ".py:" in reference:
        return _from_file(reference, search_path)
    if reference in BUILTIN:
        return _from_target(reference, BUILTIN[reference], "built-in", search_path)
    entry = _entry_points().get(reference)
    if entry is not None:
        dist = entry.dist.name if entry.dist is not None else "an installed package"
        return _from_entry_point(reference, entry, f"entry point of {dist}")
    return _from_target(reference, reference, "module", search_path)


def _from_file(reference: str, search_path: Sequence[Path]) -> LoadedTask:
    module_part, _, attribute = reference.rpartition(":") if ".py:" in reference else (reference, "", "")
    path = _find_file(module_part, search_path)
    with _import_errors(_shown(path)):
        module = _import_file(path)
    task = _task_in(module, attribute or None, _shown(path))
    return _validated(task, reference, "file", path, _shown(path))


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
        raise TaskError(f"task file {_shown(path)} cannot be loaded as Python: name it with a .py suffix")
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


def _from_target(reference: str, target: str, origin: str, search_path: Sequence[Path]) -> LoadedTask:
    module_name, _, attribute = target.partition(":")
    _extend_path(search_path)
    module = _import_module(reference, module_name, origin)
    source = Path(module.__file__).resolve() if getattr(module, "__file__", None) else None
    where = _shown(source) if source else f"module {module_name}"
    task = _task_in(module, attribute or None, where)
    return _validated(task, reference, origin, source, where)


def _import_module(reference: str, module_name: str, origin: str) -> ModuleType:
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        close = difflib.get_close_matches(reference, [*BUILTIN, *_entry_points()], n=1)
        if close:
            raise TaskError(f"unknown task {reference!r}: did you mean {close[0]}? (`sweeper studies` lists the tasks)")
        raise TaskError(
            f"unknown task {reference!r}: not a built-in task ({', '.join(BUILTIN)}), an installed "
            f"entry point ({', '.join(_entry_points()) or 'none installed'}), a .py file or an importable "
            "module; give a path such as ./my_task.py, or put its folder on SWEEPER_TASK_PATH"
        )
    where = _shown(Path(spec.origin)) if spec.origin and spec.origin not in ("built-in", "frozen") else module_name
    with _import_errors(where):
        return importlib.import_module(module_name)


def _from_entry_point(reference: str, entry: metadata.EntryPoint, origin: str) -> LoadedTask:
    module_name = entry.value.partition(":")[0].strip()
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        spec = None
    where = _shown(Path(spec.origin)) if spec is not None and spec.origin else f"module {module_name}"
    with _import_errors(where):
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
    task = _as_task(obj, entry.value, where)
    return _validated(task, reference, origin, source, where)


def _extend_path(folders: Sequence[Path]) -> None:
    """Modules are also looked up in SWEEPER_TASK_PATH and the working directory (kept on the path
    afterwards: the task's own lazy imports need it too)."""
    for folder in [*map(str, folders), os.getcwd()]:
        if folder not in sys.path:
            sys.path.append(folder)


@contextmanager
def _import_errors(where: str) -> Iterator[None]:
    """Anything raised while importing a task's code becomes one line naming the file and line."""
    try:
        yield
    except SweeperError:
        raise
    except SyntaxError as exc:
        raise TaskError(
            f"{_shown(Path(exc.filename)) if exc.filename else where} has a syntax error at line "
            f"{exc.lineno}: {exc.msg}: fix it and run again"
        ) from None
    except Exception as exc:
        raise TaskError(f"{where} cannot be imported: {describe_exception(exc)}") from None


def describe_exception(exc: BaseException) -> str:
    """``Type: message (file.py, line N)`` for the innermost frame in user code, on one line."""
    message = " ".join(str(exc).split()) or "(no message)"
    if len(message) > 300:
        message = message[:297] + "..."
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _is_library(f.filename)]
    at = f" ({_shown(Path(frames[-1].filename))}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {message}{at}"


def _is_library(filename: str) -> bool:
    """Frames of Python, installed packages and sweeper itself: the user's file is what to name."""
    if "importlib" in filename or "site-packages" in filename or filename.startswith("<frozen"):
        return True
    return _SWEEPER_ROOT in Path(filename).resolve().parents


def _task_in(module: ModuleType, attribute: str | None, where: str) -> Task:
    """The task a module holds: the named attribute, else its only Task subclass or instance."""
    if attribute:
        if not hasattr(module, attribute):
            raise TaskError(f"{where} has no {attribute!r}: name a Task subclass or instance defined in it")
        return _as_task(getattr(module, attribute), attribute, where)
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
    return _as_task(value, key, where)


def _as_task(obj: Any, name: str, where: str) -> Task:
    if inspect.isclass(obj) and issubclass(obj, Task):
        try:
            return obj()
        except Exception as exc:
            raise TaskError(f"{where}: {name}() cannot be created: {describe_exception(exc)}") from None
    if isinstance(obj, Task):
        return obj
    raise TaskError(f"{where}: {name} is a {type(obj).__name__}, not a sweeper Task: subclass sweeper.Task")


# -- validation ---------------------------------------------------------------------------------
_SIGNATURES: dict[str, tuple[str, ...]] = {
    "load_data": ("request",),
    "build_model": ("hp", "splits", "learning_rate"),
    "extra_metrics": ("model", "splits"),
    "archives": ("options",),
    "check_options": ("options",),
    "train": ("hp", "splits", "run"),
}


def _validated(task: Task, reference: str, origin: str, source: Path | None, where: str) -> LoadedTask:
    problem = task_problem(task)
    if problem:
        raise TaskError(f"{where}: {problem}")
    return LoadedTask(task, reference, origin, source, fingerprint(task, source))


def task_problem(task: Task) -> str | None:
    """The first thing wrong with a task's shape, as a phrase with the fix, or None."""
    cls = type(task)
    label = cls.__name__
    if not isinstance(task.name, str) or not _NAME.match(task.name):
        return (f"{label}.name is {task.name!r}: set name = 'my-task' (letters, digits, '.', '_', '-'; "
                "it names the study)")
    for attr in ("dataset", "model"):
        value = getattr(task, attr)
        if not isinstance(value, str) or "\n" in value:
            return f"{label}.{attr} must be one line of text, got {value!r}"
    checks: list[tuple[str, type, str]] = [
        ("defaults", TaskDefaults, "TaskDefaults(epochs=..., batch_size=...)"),
        ("objective", Objective, "Objective('accuracy', 'maximize')"),
    ]
    for attr, kind, example in checks:
        if not isinstance(getattr(task, attr), kind):
            return f"{label}.{attr} is a {type(getattr(task, attr)).__name__}: set {attr} = {example}"
    if not isinstance(task.options, Mapping) or not all(
        isinstance(k, str) and k.isidentifier() and isinstance(v, Option) for k, v in task.options.items()
    ):
        return f"{label}.options must map option names to sweeper.Option(default, ...), got {task.options!r}"
    if not isinstance(task.uses_keras, bool):
        return f"{label}.uses_keras must be True or False, got {task.uses_keras!r}"
    if cls.load_data is Task.load_data:
        return f"{label} has no load_data: define load_data(self, request) returning sweeper.Splits"
    if cls.build_model is Task.build_model and cls.train is Task.train:
        return (f"{label} has no build_model: define build_model(self, hp, splits, learning_rate) "
                "returning a compiled Keras model")
    for method, params in _SIGNATURES.items():
        problem = _signature_problem(getattr(task, method), method, params)
        if problem:
            return f"{label}.{problem}"
    return None


def _signature_problem(method: Callable[..., Any], name: str, params: tuple[str, ...]) -> str | None:
    try:
        inspect.signature(method).bind(*params)
    except TypeError:
        return f"{name}{inspect.signature(method)} cannot be called as {name}({', '.join(params)}): change its parameters"
    except ValueError:  # no signature to read (a builtin): nothing to check
        pass
    return None


def fingerprint(task: Task, source: Path | None) -> str:
    """SHA-256 (16 hex digits) of the source of the file the reference names and of the file that
    defines the task's class, when that is another file outside sweeper itself."""
    files = [source] if source is not None else []
    class_file = inspect.getsourcefile(type(task))
    if class_file:
        path = Path(class_file).resolve()
        if path not in files and _SWEEPER_ROOT not in path.parents:
            files.append(path)
    digest = hashlib.sha256()
    for path in files:
        try:
            digest.update(path.read_bytes())
        except OSError:
            digest.update(str(path).encode())
    if not files:
        digest.update(f"{type(task).__module__}.{type(task).__qualname__}".encode())
    return digest.hexdigest()[:16]


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def task_references() -> list[tuple[str, str]]:
    """(reference, origin) of every task ``sweeper studies`` lists: built-ins, then entry points."""
    refs = [(name, "built-in") for name in BUILTIN]
    for name, entry in sorted(_entry_points().items()):
        if name not in BUILTIN:
            dist = entry.dist.name if entry.dist is not None else "an installed package"
            refs.append((name, f"entry point of {dist}"))
    return refs


def resolve_options(loaded: LoadedTask, given: Mapping[str, Any]) -> dict[str, Any]:
    """The task's options: declared defaults overridden by ``given``, each checked against its
    declaration, then the task's own cross-option checks. ``ConfigError`` lines name the option."""
    task = loaded.task
    declared = task.options
    unknown = sorted(set(given) - set(declared))
    if unknown:
        have = ", ".join(declared) or "none"
        raise TaskError(
            f"unknown option {unknown[0]!r} for task {task.name}: its options are {have} (see `sweeper studies`)"
        )
    values: dict[str, Any] = {}
    for name, option in declared.items():
        raw = given.get(name, option.default)
        try:
            values[name] = option.parse(name, raw)
        except ValueError as exc:
            raise TaskError(f"task {task.name}: {exc}: fix --option {name}=VALUE") from None
    try:
        task.check_options(values)
    except ValueError as exc:
        raise TaskError(f"task {task.name}: {exc}") from None
    except SweeperError:
        raise
    except Exception as exc:
        raise TaskError(f"{loaded.where}: check_options raised {describe_exception(exc)}") from None
    return values
