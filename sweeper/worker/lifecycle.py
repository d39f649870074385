"""A worker process's life: the stop signals it takes (SIGTERM, Ctrl-C), the wait for launch to
create its studies, the exit codes it ends with, and the failures in a row that stop it.

A stop signal raises ``Shutdown`` in the main thread while a trial trains (``StopSignal.in_trial``)
and is only noted between trials: the worker then stops before claiming another.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType

from sweeper.errors import NoStudyError, SweeperError, WorkerError

EXIT_DONE = 0
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
POLL_SECONDS = 2.0
# A worker whose trials keep failing has a broken setup, not bad luck: stop instead of burning trials.
MAX_CONSECUTIVE_FAILURES = 5


class Shutdown(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM/SIGINT while a trial trains."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignal:
    """The stop signal a worker received, if any: raised as ``Shutdown`` inside a trial, noted
    outside one (the worker then stops between trials)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.in_trial = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        if self.in_trial:
            raise Shutdown(signum)

    @property
    def received(self) -> bool:
        return self.signum is not None

    def raise_if_received(self) -> None:
        """At a point where a stop lost inside library code must still end the trial."""
        if self.signum is not None:
            raise Shutdown(self.signum)

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early when a stop arrives."""
        end = time.monotonic() + seconds
        while not self.received and time.monotonic() < end:
            time.sleep(min(0.2, end - time.monotonic()))


@contextmanager
def handling_stops(stop: StopSignal) -> Iterator[None]:
    """SIGTERM and SIGINT go to ``stop`` inside; the previous handlers come back after."""
    previous = {s: signal.signal(s, stop.handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def exit_code(signum: int | None) -> int:
    if signum == signal.SIGTERM:
        return EXIT_SIGTERM
    if signum == signal.SIGINT:
        return EXIT_SIGINT
    return EXIT_DONE


def wait_for_studies(wanted: list[str], ready: Callable[[], list[str]], wait_s: float, stop: StopSignal,
                     say: Callable[[str], None]) -> list[str]:
    """The studies to serve (``wanted``, or every ready one when none is named), once ``ready()``
    lists them; waits up to ``wait_s`` for ``launch`` to create them (``ready`` raises
    ``NoStudyError`` while there are no tables yet)."""
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        try:
            studies = ready()
            if wanted:
                missing = [n for n in wanted if n not in studies]
                if not missing:
                    return list(wanted)
            elif studies:
                return studies
            else:
                missing = ["any study"]
        except NoStudyError:
            missing = wanted or ["any study"]
        if time.monotonic() > deadline or stop.received:
            raise NoStudyError(
                f"gave up after {wait_s:.0f} s waiting for {', '.join(missing)} to be launched: "
                "run `sweeper launch TASK` first"
            )
        if not announced:
            say(f"waiting up to {wait_s:.0f} s for {', '.join(missing)} to be launched")
            announced = True
        stop.sleep(POLL_SECONDS)


def finish(names: list[str], set_aside: dict[str, SweeperError], trained: bool, say: Callable[[str], None]) -> int:
    """No study left that this worker can serve: done, unless it could serve none at all."""
    if not set_aside:
        say(f"all budgets met ({', '.join(names)}); exiting")
        return EXIT_DONE
    if not trained:
        # Nothing here can run on this machine: a setup error, with the first reason.
        raise next(iter(set_aside.values()))
    served = [n for n in names if n not in set_aside]
    say(f"all budgets met ({', '.join(served)}); left to workers that can run them: "
        f"{', '.join(set_aside)}; exiting")
    return EXIT_DONE


class FailureStreak:
    """Trials failed in a row in this worker: ``WorkerError`` at ``MAX_CONSECUTIVE_FAILURES``."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, failed: bool, attrs: Mapping[str, object]) -> None:
        """One more trial ended (``attrs``: its user attrs, with its ``fail_reason``)."""
        self.count = self.count + 1 if failed else 0
        if self.count >= MAX_CONSECUTIVE_FAILURES:
            raise WorkerError(
                f"{self.count} trials in a row failed in this worker, the last with "
                f"{attrs.get('fail_reason', 'an unknown error')}: fix the cause and start the worker again"
            )
