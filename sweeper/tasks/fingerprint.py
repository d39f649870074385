"""The fingerprint of a task's code: a study stores it, and a worker whose code differs refuses
that study."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

from sweeper.tasks.api import Task
from sweeper.tasks.where import SWEEPER_ROOT


def fingerprint(task: Task, source: Path | None) -> str:
    """SHA-256 (16 hex digits) of the source of the file the reference names and of the file that
    defines the task's class, when that is another file outside sweeper itself."""
    files = [source] if source is not None else []
    class_file = inspect.getsourcefile(type(task))
    if class_file:
        path = Path(class_file).resolve()
        if path not in files and SWEEPER_ROOT not in path.parents:
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
