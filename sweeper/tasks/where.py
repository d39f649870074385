"""Naming the user's file and line: anything a task's code raises becomes one line that points at
the user's code, never at sweeper's or a library's."""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sweeper.errors import SweeperError, TaskError

# The folder holding the sweeper package: frames and files under it are sweeper's own.
SWEEPER_ROOT = Path(__file__).resolve().parents[1]


def shown(path: Path) -> str:
    """``path`` relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@contextmanager
def import_errors(where: str) -> Iterator[None]:
    """Anything raised while importing a task's code becomes one line naming the file and line."""
    try:
        yield
    except SweeperError:
        raise
    except SyntaxError as exc:
        raise TaskError(
            f"{shown(Path(exc.filename)) if exc.filename else where} has a syntax error at line "
            f"{exc.lineno}: {exc.msg}: fix it and run again"
        ) from None
    except Exception as exc:
        raise TaskError(f"{where} cannot be imported: {describe_exception(exc)}") from None


def describe_exception(exc: BaseException) -> str:
    """``Type: message (file.py, line N)`` for the innermost frame in user code, on one line."""
    message = " ".join(str(exc).split()) or "(no message)"
    if len(message) > 300:
        message = message[:297] + "..."
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not is_library(f.filename)]
    at = f" ({shown(Path(frames[-1].filename))}, line {frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {message}{at}"


def is_library(filename: str) -> bool:
    """Frames of Python, installed packages and sweeper itself: the user's file is what to name."""
    if "importlib" in filename or "site-packages" in filename or filename.startswith("<frozen"):
        return True
    return SWEEPER_ROOT in Path(filename).resolve().parents
