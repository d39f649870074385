"""The contract with Optuna's private names: every one sweeper relies on is listed in
``sweeper.storage.optuna_private.PRIVATE_NAMES``, exists on the installed Optuna, and is used
nowhere outside ``sweeper/storage/``. When an Optuna upgrade fails here, the fix belongs in
``sweeper/storage/`` (and the list)."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import optuna
import pytest

import sweeper
from sweeper.storage.optuna_private import OVERRIDDEN, PRIVATE_NAMES

PACKAGE = Path(sweeper.__file__).parent
STORAGE = PACKAGE / "storage"


def _resolve(dotted: str) -> Any:
    """A module, or a class inside one, by its dotted name."""
    try:
        return importlib.import_module(dotted)
    except ImportError:
        module, _, name = dotted.rpartition(".")
        return getattr(importlib.import_module(module), name)


def _live_objects() -> dict[str, list[Any]]:
    """Instances of Optuna's classes, for the attributes only an instance has."""
    storage = optuna.storages.RDBStorage("sqlite:///:memory:")
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    cached = optuna.storages.get_storage(storage)
    return {
        "optuna.study.Study": [study],
        "optuna.study.StudySummary": optuna.get_all_study_summaries(storage),
        "optuna.trial.Trial": [trial],
        "optuna.trial.FrozenTrial": [study.trials[0]],
        "optuna.storages._CachedStorage": [cached],
        "optuna.storages.RDBStorage": [storage],
    }


def test_every_private_name_exists_on_the_installed_optuna() -> None:
    live = _live_objects()
    missing = []
    for owner, name in PRIVATE_NAMES:
        try:
            target = _resolve(owner)
        except (ImportError, AttributeError):
            missing.append(f"{owner} (the owner itself)")
            continue
        found = hasattr(target, name) or any(hasattr(obj, name) for obj in live.get(owner, []))
        if not found:
            missing.append(f"{owner}.{name}")
    major_minor = ".".join(optuna.__version__.split(".")[:2])
    assert not missing, "".join(
        f"\nOptuna {major_minor} no longer has {m}: update sweeper/storage/optuna_private.py" for m in missing
    )


def test_every_live_object_owner_is_listed() -> None:
    """The instances the check above looks at are of the classes the list names."""
    owners = {owner for owner, _ in PRIVATE_NAMES}
    assert set(_live_objects()) <= owners


@pytest.mark.parametrize(("owner", "name", "ours"), OVERRIDDEN, ids=[f"{o[2]}.{o[1]}" for o in OVERRIDDEN])
def test_overridden_private_methods_keep_their_parameters(owner: str, name: str, ours: str) -> None:
    assert (owner, name) in PRIVATE_NAMES
    theirs = list(inspect.signature(getattr(_resolve(owner), name)).parameters)
    mine = list(inspect.signature(getattr(_resolve(ours), name)).parameters)
    assert mine == theirs, (
        f"Optuna {optuna.__version__} changed the parameters of {owner}.{name} ({theirs}; {ours} has "
        f"{mine}): update {ours}"
    )


def _private_uses(path: Path, names: set[str]) -> list[str]:
    """Where a module reads one of ``names`` as an attribute, names one, or imports a private
    Optuna module."""
    where = path.relative_to(PACKAGE.parent) if PACKAGE in path.parents else path
    uses = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Attribute) and node.attr in names:
            uses.append(f"{where}:{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in names:
            uses.append(f"{where}:{node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("optuna"):
            private = [part for part in node.module.split(".") if part.startswith("_")]
            private += [a.name for a in node.names if a.name in names]
            if private:
                uses.append(f"{where}:{node.lineno}: from {node.module} import ...")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("optuna") and any(p.startswith("_") for p in alias.name.split(".")):
                    uses.append(f"{where}:{node.lineno}: import {alias.name}")
    return uses


def test_no_module_outside_storage_uses_a_private_optuna_name() -> None:
    names = {name for _, name in PRIVATE_NAMES if name.startswith("_")}  # (`models` is caught by its module)
    uses = [use for path in sorted(PACKAGE.rglob("*.py")) if STORAGE not in path.parents
            for use in _private_uses(path, names)]
    assert not uses, "private Optuna names outside sweeper/storage/ (call sweeper.storage.optuna_private):\n" + "\n".join(uses)


def test_the_scan_finds_a_private_use(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("def f(study):\n    return study._study_id\nfrom optuna.storages._rdb import models\n")
    assert len(_private_uses(probe, {"_study_id"})) == 2
