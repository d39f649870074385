"""The note a worker leaves in a study it cannot run (its task's code is missing or differs, its
data cannot be read), so that ``sweeper status`` says why the study is not progressing. One study
attr per worker process (``cannot_run:host:pid``), so workers never overwrite each other's."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

from sweeper.study.config import PROBLEM_PREFIX, problem_attr


def note(worker: str, reason: str) -> tuple[str, dict[str, Any]]:
    """The attr key and value of a worker's note."""
    return problem_attr(worker), {"reason": reason, "worker": worker,
                                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def stale_notes(attrs: dict[str, Any], worker: str) -> list[str]:
    """Keys of the notes left by workers of this host (``host:pid``) whose process is gone:
    their reason may no longer hold. Notes of live processes and other hosts are kept."""
    host = worker.rsplit(":", 1)[0]
    keys = []
    for key, value in attrs.items():
        if not key.startswith(PROBLEM_PREFIX) or not value:
            continue
        noted_host, _, pid = key[len(PROBLEM_PREFIX):].rpartition(":")
        if noted_host == host and pid.isdigit() and not _alive(int(pid)):
            keys.append(key)
    return keys


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True
