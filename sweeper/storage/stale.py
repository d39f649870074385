"""Which running trials are stale (their worker died), judged so that a database outage never makes
a live trial look dead.

Optuna calls a trial stale when the database's clock is more than the grace period past its last
heartbeat. After an outage every trial is: no worker could beat while the database (or the pooler,
or the network) was away, and the first reaper to read afterwards, a worker or ``sweeper status``,
would fail them all before their heartbeat threads, still backing off, beat again. Here a trial
past the grace period is only a suspect; it is stale once this process has seen its heartbeat stay
the same for ``confirm`` seconds of its own clock, counted from the last time this process saw the
database away (``note_outage``), so the watch starts afresh when the database comes back. A live
worker's heartbeat thread beats within its backoff (at most ``MAX_RETRY_WAIT`` seconds) once it
reaches the database again; ``confirm`` is longer than that plus a heartbeat interval.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class StaleWatch:
    """The suspects this process is watching, per study: trial id -> (its heartbeat as stored,
    when this process first saw that heartbeat past the grace period)."""

    grace: float
    confirm: float
    clock: Callable[[], float] = time.monotonic
    outage_seen_at: float = -math.inf
    _suspects: dict[int, dict[int, tuple[Hashable, float]]] = field(default_factory=dict)

    def note_outage(self) -> None:
        """This process just saw the database away (a failed attempt, or a call that needed
        retries): every suspect is watched afresh from now."""
        self.outage_seen_at = self.clock()

    def stale(self, study_id: int, beats: Iterable[tuple[int, Hashable, float]]) -> list[int]:
        """The stale trials among ``beats``: (trial id, its heartbeat as stored, its age in
        seconds by the database's clock) for every running trial of ``study_id`` that has one."""
        now = self.clock()
        before = self._suspects.get(study_id, {})
        watched: dict[int, tuple[Hashable, float]] = {}
        stale = []
        for trial_id, beat, age in beats:
            if age <= self.grace:
                continue
            seen = before.get(trial_id)
            if seen is None or seen[0] != beat:
                watched[trial_id] = (beat, now)
                continue
            watched[trial_id] = seen
            if now - max(seen[1], self.outage_seen_at) >= self.confirm:
                stale.append(trial_id)
        self._suspects[study_id] = {k: v for k, v in watched.items() if k not in stale}
        return stale

    def wait_s(self) -> float | None:
        """Seconds until every current suspect can be judged (None: nobody is suspected)."""
        since = [max(s, self.outage_seen_at) for study in self._suspects.values() for _, s in study.values()]
        if not since:
            return None
        return max(0.0, max(since) + self.confirm - self.clock())
