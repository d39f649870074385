"""The ``sweeper`` command: argument parsing (``parser``), arguments to settings and configs
(``configs``), the sub-commands (``commands``), local workers with live progress (``local``,
``progress``) and quiet output (``quiet``). ``main(argv)`` runs in-process (tests call it
directly); every ``SweeperError`` becomes one line on stderr and its exit code, with a traceback
only under ``--debug`` / ``SWEEPER_DEBUG=1``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sweeper.cli.commands import COMMANDS
from sweeper.cli.parser import build_parser
from sweeper.errors import SweeperError
from sweeper.settings import Settings
from sweeper.worker import collector

__all__ = ["COMMANDS", "build_parser", "console", "main"]


def main(argv: Sequence[str] | None = None, *, own_process: bool = False) -> int:
    """``own_process``: this is the ``sweeper`` command's own process (not a test or notebook
    calling in), whose stderr may be filtered."""
    args = build_parser().parse_args(argv)
    debug = _debug(args)
    # TensorFlow's C++ start-up lines (oneDNN, CPU features) and Optuna's info lines are noise
    # between progress lines; --debug shows them. Children inherit the environment.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if debug else "2")
    if debug:
        os.environ["SWEEPER_DEBUG"] = "1"
    elif args.command in STARTS_KERAS and own_process:
        from sweeper.cli import quiet

        quiet.filter_stderr()
    try:
        return COMMANDS[args.command](args)
    except SweeperError as exc:
        if debug:
            raise
        print(f"sweeper: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("sweeper: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        # Ctrl-C in the middle of an import (SciPy's, TensorFlow's) surfaces as the library's own
        # error ("ImportError: initialization failed") raised from the KeyboardInterrupt.
        if debug or not _interrupted(exc):
            raise
        print("sweeper: interrupted", file=sys.stderr)
        return 130


def _debug(args: argparse.Namespace) -> bool:
    """``Settings.debug`` (--debug > SWEEPER_DEBUG > off). Settings that do not resolve (a bad
    SWEEPER_* value) are the command's own one-line error, without a traceback."""
    try:
        return Settings.resolve({"debug": getattr(args, "debug", None)}).debug
    except SweeperError:
        return False


def _interrupted(exc: BaseException | None) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# Commands whose process may start TensorFlow (its start-up lines are filtered: sweeper.cli.quiet).
STARTS_KERAS = ("worker", "run", "check", "evaluate")


def console() -> None:
    """The installed ``sweeper`` command and ``python -m sweeper``: a process of its own, whose
    garbage collection the worker may tune (``sweeper.worker.collector``) and whose stderr may be
    filtered (``sweeper.cli.quiet``); ``main`` in-process does neither."""
    collector.own_process()
    sys.exit(main(own_process=True))
