"""A measurement taken every ``every`` seconds in a background thread while a ``with`` block runs
(connections per process, PgBouncer's pools, memory per process): the subclass says what one
sample is."""

from __future__ import annotations

import threading
from typing import Self


class BackgroundSampler:
    def __init__(self, every: float) -> None:
        self.every = every
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(self.every)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
