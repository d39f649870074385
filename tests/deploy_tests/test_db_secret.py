"""deploy/k8s/db_secret.py: a URL that no pod could use is refused with one line saying how to
fix it, before it becomes a Secret; nothing is printed for kubectl then."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.deploy_tests.manifests import DB_SECRET


def _run(*args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SWEEPER_STORAGE"}
    if url is not None:
        env["SWEEPER_STORAGE"] = url
    return subprocess.run([sys.executable, str(DB_SECRET), *args], capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.parametrize(("url", "says"), [
    (None, "SWEEPER_STORAGE is not set"),
    ("sqlite:///sweeper.db", "must be a PostgreSQL URL"),
    ("postgres://u:p@db/sweeper", "postgres://, which SQLAlchemy does not know"),
    ("postgresql+psycopg2://u:p@ss@db/sweeper", "percent-encoded"),
    ("postgresql+psycopg2://u:pa/ss@db/sweeper", "percent-encoded"),
    ("postgresql+psycopg2://u@db/sweeper", "has no password"),
    ("postgresql+psycopg2://u:p@db:5432", "has no database"),
    ("postgresql+psycopg2://u:p@localhost:5432/sweeper", "in a pod is the pod itself"),
])
def test_a_url_no_pod_could_use_is_refused_in_one_line(url: str | None, says: str) -> None:
    done = _run("prod", url=url)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("db_secret.py: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr, done.stderr


def test_a_percent_encoded_url_becomes_the_secret_as_given() -> None:
    url = "postgresql+psycopg2://sweeper:p%40ss@db.example.internal:5432/sweeper?sslmode=require"
    done = _run("prod", url=url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stringData"] == {"url": url}


def test_no_overlay_named_prints_the_usage() -> None:
    done = _run()
    assert done.returncode == 2 and done.stdout == "" and "usage: db_secret.py dev|prod|fleet" in done.stderr


def test_the_fleet_secret_decodes_the_login_for_pgbouncer_and_keeps_it_encoded_in_urls() -> None:
    url = "postgresql+psycopg2://sweeper:p%40s%22s@db.example.internal:6543/sweeper?sslmode=require"
    done = _run("fleet", url=url)
    assert done.returncode == 0, done.stderr
    keys = json.loads(done.stdout)["stringData"]
    assert keys["url"] == url
    assert keys["pooled-url"] == "postgresql+psycopg2://sweeper:p%40s%22s@sweeper-pgbouncer:5432/sweeper"
    assert keys["pgbouncer-databases"].endswith("sweeper = host=db.example.internal port=6543 dbname=sweeper\n")
    login, stats = keys["pgbouncer-userlist"].splitlines()
    assert login == '"sweeper" "p@s""s"'
    # PgBouncer's read-only stats user (stats_users in pgbouncer.ini), a fresh password each time.
    assert re.fullmatch(r'"pgbouncer_stats" "[0-9a-f]{48}"', stats)
    assert stats not in json.loads(_run("fleet", url=url).stdout)["stringData"]["pgbouncer-userlist"]
