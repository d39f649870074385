"""The storage's retry: a busy database is retried without counting as an outage (it must not
restart the stale watch, or a reaper on a busy SQLite file never reaps); a database that was away
is heard as one."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from sweeper.storage.retry import call_with_retry
from tests.support.postgres import PostgresServer


def test_a_locked_sqlite_file_is_retried_but_is_no_outage(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the file
    threading.Timer(0.6, lambda: holder.execute("COMMIT")).start()
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    attempts, outages = [], []

    def write() -> None:
        attempts.append(1)
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))

    call_with_retry(f"sqlite:///{path}", write, seconds=10, on_outage=lambda: outages.append(1))
    assert len(attempts) > 1  # it was busy, and retried
    assert outages == []
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar() == 1
    engine.dispose()
    holder.close()


def test_a_database_that_was_away_is_heard_as_an_outage(pg_url: str, postgres_server: PostgresServer) -> None:
    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    outages = []
    postgres_server.stop()
    threading.Timer(1.0, postgres_server.start).start()
    start = time.monotonic()

    def select_one() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1")).scalar()

    value = call_with_retry(pg_url, select_one, seconds=60, on_outage=lambda: outages.append(time.monotonic() - start))
    engine.dispose()
    assert value == 1
    # Heard after each failed attempt, and once more when the database came back.
    assert len(outages) >= 2 and outages[-1] >= 1.0
