"""One error hierarchy. Every user-facing failure is a ``SweeperError`` whose message is one line
that names what is wrong and how to fix it; the CLI prints it without a traceback."""

from __future__ import annotations


class SweeperError(Exception):
    """A failure the user can fix; ``str(error)`` is the one-line message."""

    exit_code = 1


class ConfigError(SweeperError):
    """Bad flags, ranges, task names or a study launched with other settings."""

    exit_code = 2


class TaskError(ConfigError):
    """A task cannot be loaded or used: a missing or wrong piece of a user's task (its file, class,
    ``load_data`` or ``build_model``), named with the file it is in."""


class StorageError(SweeperError):
    """The database cannot be reached or used (bad URL, unreachable host, wrong password)."""

    exit_code = 3
    # True when the database was away (a restart, the network) for longer than calls retry: not
    # the fault of what was being stored, so a trial interrupted by it is queued again.
    transient = False


class DataError(SweeperError):
    """A data set archive is missing, corrupt or laid out differently from the official one."""

    exit_code = 4


class NoStudyError(SweeperError):
    """The study asked for does not exist (yet) in the storage."""

    exit_code = 5


class ReportError(SweeperError):
    """A report cannot be written (no finished trials, an evaluation study named, no browser)."""

    exit_code = 7


class WorkerError(SweeperError):
    """A worker stopped because its trials keep failing (a broken setup, not a bad trial)."""

    exit_code = 6


class TrialDiverged(Exception):
    """Training produced a non-finite loss; ends the trial, never the worker."""
