"""Tasks registered under the ``sweeper.tasks`` entry-point group: the built-in case studies
(declared in sweeper's own ``pyproject.toml``) and those of any installed package, found the same
way (``importlib.metadata``; nothing is scanned or guessed).

An entry point is *built-in* when sweeper's own distribution declares it for a module of its
``studies`` package. Installed metadata is written by ``pip install``; a checkout run without
reinstalling (its metadata older than its ``pyproject.toml``) would not see entry points added
since, so the entry points declared in the ``pyproject.toml`` beside the running ``sweeper``
package, when there is one (an editable install or a checkout on ``PYTHONPATH``), count too: the
code that runs is the code that declares them. An installed wheel has no such file and uses its
metadata alone.
"""

from __future__ import annotations

import tomllib
from importlib import metadata

from sweeper.tasks.where import SWEEPER_ROOT

ENTRY_POINT_GROUP = "sweeper.tasks"
DISTRIBUTION = "sweeper"
STUDIES_PACKAGE = "studies"


def entry_points() -> dict[str, metadata.EntryPoint]:
    """Every registered task by name. sweeper's own entry points win a name clash, as built-in
    names always have."""
    installed = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    ordered = ([e for e in installed if not _own(e)] + [e for e in installed if _own(e)]
               + _checkout_entry_points())
    return {e.name: e for e in ordered}


def is_builtin(entry: metadata.EntryPoint) -> bool:
    """Declared by sweeper itself for one of its case studies."""
    return _own(entry) and entry.module.split(".")[0] == STUDIES_PACKAGE


def origin_of(entry: metadata.EntryPoint) -> str:
    """``built-in`` or ``entry point of <distribution>``, as ``sweeper tasks`` shows it."""
    if is_builtin(entry):
        return "built-in"
    dist = entry.dist.name if entry.dist is not None else "an installed package"
    return f"entry point of {dist}"


def builtin_names(found: dict[str, metadata.EntryPoint] | None = None) -> list[str]:
    """The built-in tasks among ``found`` (default: every registered task), by name."""
    return sorted(name for name, entry in (entry_points() if found is None else found).items() if is_builtin(entry))


def task_references() -> list[tuple[str, str]]:
    """(reference, origin) of every task ``sweeper tasks`` lists: built-ins, then entry points."""
    found = entry_points()
    refs = [(name, "built-in") for name in builtin_names(found)]
    return refs + [(name, origin_of(entry)) for name, entry in sorted(found.items()) if not is_builtin(entry)]


def unregistered_study(reference: str) -> bool:
    """Whether ``reference`` names a case study module of sweeper that no entry point registers
    (its metadata predates it: reinstall sweeper)."""
    return reference.isidentifier() and (SWEEPER_ROOT.parent / STUDIES_PACKAGE / f"{reference}.py").is_file()


def _own(entry: metadata.EntryPoint) -> bool:
    # Entry points read from the checkout's pyproject.toml carry no distribution.
    return entry.dist is None or entry.dist.name.lower().replace("_", "-") == DISTRIBUTION


def _checkout_entry_points() -> list[metadata.EntryPoint]:
    """The group's entry points declared in the pyproject.toml beside the running package."""
    path = SWEEPER_ROOT.parent / "pyproject.toml"
    try:
        project = tomllib.loads(path.read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return []
    if project.get("name") != DISTRIBUTION:
        return []
    declared = project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})
    return [metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in declared.items()]
