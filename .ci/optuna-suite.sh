#!/usr/bin/env bash
# Optuna's own storage tests (tests/storages_tests of the installed Optuna's sdist: test_storages.py,
# test_cached_storage.py, test_with_server.py) against sweeper's storage, on SQLite and on PostgreSQL.
# The sdist is downloaded once into a cache (never into the repository, never inside a test); the
# plugin tests/support/optuna_suite.py puts ResilientRDBStorage in RDBStorage's place.
#   .ci/optuna-suite.sh                 sweeper's storage on sqlite, then postgresql
#   .ci/optuna-suite.sh optuna sqlite   plain RDBStorage (the control) on sqlite
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
version=$(python3 -c "import optuna; print(optuna.__version__)")
cache=${SWEEPER_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sweeper-ci}
src=$cache/optuna-$version
if [ ! -d "$src/tests/storages_tests" ]; then
  mkdir -p "$cache"
  python3 -m pip download -q --disable-pip-version-check --no-binary :all: --no-deps "optuna==$version" -d "$cache"
  tar -xzf "$cache/optuna-$version.tar.gz" -C "$cache"
fi
storage=${1:-sweeper}
dbs=${2:-sqlite postgresql}
# Run from the repository, so that `tests` is its package (the plugin), not Optuna's.
for db in $dbs; do
  echo "optuna-suite: $storage storage on $db (optuna $version)"
  PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}" python3 -m pytest -q -p no:cacheprovider -p tests.support.optuna_suite \
    --import-mode=importlib --rootdir "$src" -c "$src/pyproject.toml" --color=no -o timeout=600 \
    --suite-storage "$storage" --suite-db "$db" \
    -ra "$src"/tests/storages_tests/{test_storages.py,test_cached_storage.py,test_with_server.py}
done
