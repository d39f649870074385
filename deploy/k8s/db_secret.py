#!/usr/bin/env python3
"""Prints the Secret `sweeper-db` that the Kubernetes manifests take the database from, as JSON for
`kubectl create -f -`. Nothing is written to disk, and no manifest holds a credential.

    python3 deploy/k8s/db_secret.py dev | kubectl -n sweeper create -f -
        overlays/dev: a new random password for the in-cluster PostgreSQL (key postgres-password)
        and the URL the sweeper pods use (key url).

    read -rs SWEEPER_STORAGE && export SWEEPER_STORAGE   # paste the URL; it is not echoed
    python3 deploy/k8s/db_secret.py prod | kubectl -n sweeper create -f -
        overlays/prod: the URL of your PostgreSQL (key url), read from SWEEPER_STORAGE so that it
        is in no shell history, and checked first.
    python3 deploy/k8s/db_secret.py fleet | kubectl -n sweeper create -f -
        overlays/fleet (prod with components/pooler): the same, plus the URL the workers use through
        PgBouncer (key pooled-url) and PgBouncer's upstream server and logins (pgbouncer-databases,
        pgbouncer-userlist), derived from SWEEPER_STORAGE; the userlist also holds a new random
        password for PgBouncer's read-only stats user (SHOW POOLS, docs/deployment.md).

Standard library only: it runs wherever kubectl does.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from urllib.parse import unquote, urlsplit

NAME = "sweeper-db"
# The in-cluster database of overlays/dev (its StatefulSet's POSTGRES_USER, POSTGRES_DB, Service).
DEV_USER = DEV_DB = "sweeper"
DEV_HOST = "sweeper-postgres:5432"
EXAMPLE = "postgresql+psycopg2://USER:PASSWORD@HOST:5432/DATABASE"
# The Service of components/pooler, and the stats_users of its pgbouncer.ini.
POOLER_HOST = "sweeper-pgbouncer:5432"
STATS_USER = "pgbouncer_stats"


class BadInput(Exception):
    """A one-line message saying what is wrong and how to fix it."""


def dev_keys() -> dict[str, str]:
    # Hex: safe in a URL without escaping.
    password = secrets.token_hex(24)
    return {
        "postgres-password": password,
        "url": f"postgresql+psycopg2://{DEV_USER}:{password}@{DEV_HOST}/{DEV_DB}",
    }


def prod_keys(environ: dict[str, str]) -> dict[str, str]:
    url = environ.get("SWEEPER_STORAGE", "").strip()
    if not url:
        raise BadInput(f"SWEEPER_STORAGE is not set: export your database's URL first, e.g. {EXAMPLE}")
    check_url(url)
    return {"url": url}


def pooler_keys(url: str) -> dict[str, str]:
    """The workers' URL through PgBouncer, and PgBouncer's view of the server (a checked URL)."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0]
    database = unquote(parts.path.strip("/"))
    # PgBouncer's auth file quotes with ", doubling one inside a value.
    user, password = (unquote(v).replace('"', '""') for v in (parts.username or "", parts.password or ""))
    return {
        # Pod to PgBouncer stays inside the cluster; its own settings (TLS upstream) are in the ini.
        "pooled-url": f"{parts.scheme}://{credentials}@{POOLER_HOST}{parts.path}",
        "pgbouncer-databases": f"[databases]\n{database} = host={parts.hostname} port={parts.port or 5432} dbname={database}\n",
        "pgbouncer-userlist": f'"{user}" "{password}"\n"{STATS_USER}" "{secrets.token_hex(24)}"\n',
    }


def check_url(url: str) -> None:
    """What a pod needs of the URL, checked before it becomes a Secret that every pod fails on."""
    parts = urlsplit(url)
    if parts.scheme == "postgres":
        raise BadInput(f"SWEEPER_STORAGE starts with postgres://, which SQLAlchemy does not know: write {EXAMPLE}")
    if not parts.scheme.startswith("postgresql"):
        raise BadInput(
            f"SWEEPER_STORAGE must be a PostgreSQL URL (pods on many nodes share the studies; "
            f"SQLite cannot), got scheme {parts.scheme or 'none'!r}: write {EXAMPLE}"
        )
    after_scheme = url.split("://", 1)[-1]
    if after_scheme.count("@") != 1 or "@" not in parts.netloc:
        raise BadInput("SWEEPER_STORAGE needs USER:PASSWORD@HOST with '@', '/', '?' and '#' in the user and "
                       f"password percent-encoded (urllib.parse.quote(PASSWORD, safe='')): write {EXAMPLE}")
    missing = [what for what, value in (("user", parts.username), ("password", parts.password),
                                        ("host", parts.hostname), ("database", parts.path.strip("/")))
               if not value]
    if missing:
        raise BadInput(f"SWEEPER_STORAGE has no {' and no '.join(missing)}: write {EXAMPLE}")
    if parts.hostname in ("localhost", "127.0.0.1", "::1"):
        raise BadInput(f"SWEEPER_STORAGE names {parts.hostname}, which in a pod is the pod itself: "
                       "use the database's address as the cluster's nodes reach it")


def secret(keys: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/name": "sweeper", "app.kubernetes.io/part-of": "sweeper"}},
        "type": "Opaque",
        "stringData": keys,
    }


def main(argv: list[str], environ: dict[str, str]) -> int:
    if len(argv) != 1 or argv[0] not in ("dev", "prod", "fleet"):
        print("usage: db_secret.py dev|prod|fleet  (the overlay the Secret is for; see the top of this file)",
              file=sys.stderr)
        return 2
    try:
        keys = dev_keys() if argv[0] == "dev" else prod_keys(environ)
        if argv[0] == "fleet":
            keys.update(pooler_keys(keys["url"]))
    except BadInput as exc:
        print(f"db_secret.py: error: {exc}", file=sys.stderr)
        return 2
    json.dump(secret(keys), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], dict(os.environ)))
