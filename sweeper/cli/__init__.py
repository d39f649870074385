"""The ``sweeper`` command: argument parsing (``parser``), the commands (``commands``), local
worker processes with live progress (``local``, ``progress``) and quiet output (``quiet``).
``main(argv)`` runs in-process (tests call it directly)."""

from __future__ import annotations

from sweeper.cli.commands import COMMANDS, build_parser, console, main

__all__ = ["COMMANDS", "build_parser", "console", "main"]
