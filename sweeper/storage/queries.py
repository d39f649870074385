"""The reads sweeper makes beside Optuna's own: studies by attr in one query, a study's attrs
without building a Study, and a study by name with a one-line error naming the known ones."""

from __future__ import annotations

from typing import Any

import optuna
import sqlalchemy

from sweeper.errors import NoStudyError
from sweeper.settings import Settings
from sweeper.storage.errors import redact
from sweeper.storage.optuna_private import models
from sweeper.storage.retry import call_with_retry


def study_names(storage: optuna.storages.RDBStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def studies_with_attr(storage: optuna.storages.RDBStorage, key: str) -> list[str]:
    """Names of the studies that have the user attr ``key`` (launch sets its config last), in
    the order they were created: one query, where Optuna's calls take two per study."""
    studies, attrs = models.StudyModel.__table__, models.StudyUserAttributeModel.__table__
    query = (
        sqlalchemy.select(studies.c.study_name)
        .join(attrs, attrs.c.study_id == studies.c.study_id)
        .where(attrs.c.key == key)
        .order_by(studies.c.study_id)
    )

    def read() -> list[str]:
        with storage.engine.connect() as conn:
            return list(conn.execute(query).scalars())

    # A worker starting (or a supervisor restarting one) while the database is away waits for it.
    return call_with_retry(storage.url, read, seconds=getattr(storage, "retry_seconds", Settings.storage_retry),
                           on_outage=getattr(storage, "note_outage", None))


def load_study(storage: optuna.storages.RDBStorage, name: str) -> optuna.Study:
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        raise _no_study(storage, name) from None


def study_user_attrs(storage: optuna.storages.RDBStorage, name: str) -> dict[str, Any]:
    """A study's user attrs without building a Study (which reads its id and directions)."""
    try:
        study_id = storage.get_study_id_from_name(name)
    except KeyError:
        raise _no_study(storage, name) from None
    return storage.get_study_user_attrs(study_id)


def _no_study(storage: optuna.storages.RDBStorage, name: str) -> NoStudyError:
    import difflib

    names = study_names(storage)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return NoStudyError(f"no study named {name!r} in {redact(storage.url)}: did you mean {close[0]!r}? "
                            f"(studies: {', '.join(names)})")
    known = ", ".join(names) or "none"
    return NoStudyError(
        f"no study named {name!r} in {redact(storage.url)} (studies: {known}): run `sweeper launch {name}` first"
    )
