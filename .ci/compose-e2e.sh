#!/usr/bin/env bash
# Real end-to-end run of docker-compose.yml on the CPU path, with a tiny budget:
#   .ci/compose-e2e.sh [DATA_MIRROR]      (default: ../shared/data next to the clone)
#
# It starts its own Docker daemon with everything under a temp dir, builds local stand-ins for the
# official base images (no registry is reachable in CI: a debootstrapped Debian, then Python and
# PostgreSQL on top), runs `docker-compose up` and checks that the database becomes healthy,
# `launch` creates one study per task (the three case studies and a user's task file mounted from a
# tasks folder: examples/digits.py), the workers finish the budget through PgBouncer (the `pooler`
# profile, its image built from Debian's package: the open-file limit raised at start, or a
# one-line refusal under a low one; its stats user reads SHOW POOLS/STATS), the dashboard's
# /api/studies lists the studies and the report service writes its pages. Everything (containers,
# volumes, images, daemon, docker0 and its iptables chains) is removed on exit, pass or fail.
#
# Needs root, docker.io, docker-compose (1.29) and debootstrap, and the network access to Debian
# and PyPI that CI has. Environment knobs:
#   SWEEPER_E2E_TASKS    tasks to launch (default: cifar10 librispeech imdb digits.py; a .py name is
#                        copied from examples/ into the mounted tasks folder)
#   SWEEPER_E2E_PORT     host port of the dashboard (default 8080)
#   SWEEPER_E2E_KEEP=1   keep the temp dir (logs) after the run
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
MIRROR=$(cd "${1:-${SWEEPER_E2E_MIRROR:-$REPO/../shared/data}}" && pwd)
TASKS=${SWEEPER_E2E_TASKS:-cifar10 librispeech imdb digits.py}
# Studies are named after their task; the example files' tasks are named like the file.
STUDIES=$(for task in $TASKS; do printf '%s ' "${task%.py}"; done)
PORT=${SWEEPER_E2E_PORT:-8080}
TRIALS=2
W=$(mktemp -d /tmp/sweeper-e2e.XXXXXX)
PROJECT=sweepere2e$$
export DOCKER_HOST=unix://$W/docker.sock
T0=$(date +%s)
PHASE_START=$T0
PHASE=setup

log() { echo "[e2e $(($(date +%s) - T0))s] $*"; }
phase() {
    local now; now=$(date +%s)
    [ "$PHASE" = setup ] || log "phase '$PHASE' took $((now - PHASE_START)) s"
    PHASE=$1; PHASE_START=$now
    log "== $1"
}
fail() { log "FAILED in phase '$PHASE': $*"; exit 1; }

compose() {
    docker-compose --project-name "$PROJECT" --project-directory "$REPO" -f "$REPO/docker-compose.yml" \
        --env-file "$W/e2e.env" --profile pooler "$@"
}

cleanup() {
    local code=$?
    set +e
    [ "$code" = 0 ] || { log "--- last service logs ---"; compose logs --no-color --tail=60 2>/dev/null; }
    log "== teardown"
    if [ -S "$W/docker.sock" ]; then
        compose --profile report down --volumes --remove-orphans --timeout 20 >/dev/null 2>&1
        docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1
    fi
    if [ -f "$W/docker.pid" ]; then
        local pid; pid=$(cat "$W/docker.pid")
        kill "$pid" 2>/dev/null
        for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        kill -9 "$pid" 2>/dev/null
    fi
    # A daemon killed hard leaves mounts under its data root.
    grep -o " $W[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    # The daemon leaves its bridges and iptables rules behind.
    for link in $(ip -o link show 2>/dev/null | grep -oE '(docker0|br-[0-9a-f]{12})(@[^:]*)?:' | cut -d: -f1 | cut -d@ -f1); do
        ip link delete "$link" 2>/dev/null
    done
    for table in filter nat; do
        iptables-save -t "$table" 2>/dev/null | grep -E '^-A' | grep -E 'DOCKER|docker0|br-[0-9a-f]{12}' \
            | sed 's/^-A/-D/' | while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null; done
        for chain in $(iptables-save -t "$table" 2>/dev/null | grep -oE '^:DOCKER[A-Z0-9-]*' | tr -d :); do
            iptables -t "$table" -F "$chain" 2>/dev/null; iptables -t "$table" -X "$chain" 2>/dev/null
        done
    done
    if [ "${SWEEPER_E2E_KEEP:-0}" = 1 ]; then
        log "kept $W"
    else
        rm -rf "$W"
    fi
    log "total $(($(date +%s) - T0)) s, exit $code"
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for tool in dockerd docker docker-compose debootstrap iptables-save; do
    command -v "$tool" >/dev/null || fail "$tool not found: apt-get install docker.io docker-compose debootstrap"
done
[ "$(id -u)" = 0 ] || fail "run as root (own Docker daemon, debootstrap)"
mkdir -p "$W/tasks"
for task in $TASKS; do
    case "$task" in
        *.py) [ -f "$REPO/examples/$task" ] || fail "no example examples/$task for task $task"
              cp "$REPO/examples/$task" "$W/tasks/" ;;
        *) [ -f "$REPO/studies/$task.py" ] || fail "no case study studies/$task.py for task $task" ;;
    esac
done
chmod -R a+rX "$W/tasks"

phase daemon
dockerd --data-root "$W/data" --exec-root "$W/exec" --host "$DOCKER_HOST" --pidfile "$W/docker.pid" \
    >"$W/dockerd.log" 2>&1 &
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null 2>&1 || { tail -20 "$W/dockerd.log"; fail "dockerd did not start"; }

phase base-image
ROOTFS=$W/rootfs
debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOTFS" http://deb.debian.org/debian \
    >"$W/debootstrap.log" 2>&1 || { tail -20 "$W/debootstrap.log"; fail "debootstrap"; }
# HTTPS may pass a TLS-inspecting proxy whose CA only the host trusts: give the base image the
# certificates the host trusts and Debian's bundle lacks (none on an ordinary machine).
python3 - "$ROOTFS" <<'PY'
import re, sys
from pathlib import Path
root = Path(sys.argv[1])
pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
theirs = set(pem.findall((root / "etc/ssl/certs/ca-certificates.crt").read_text()))
ours = pem.findall(Path("/etc/ssl/certs/ca-certificates.crt").read_text())
extra = [c for c in ours if c not in theirs]
for i, cert in enumerate(extra):
    (root / f"usr/local/share/ca-certificates/host-{i}.crt").write_text(cert + "\n")
print(f"host CA certificates added to the base image: {len(extra)}")
PY
chroot "$ROOTFS" update-ca-certificates >/dev/null 2>&1
rm -rf "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import -c 'CMD ["bash"]' -c 'ENV LANG=C.UTF-8' - local/debian:bookworm >/dev/null
rm -rf "$ROOTFS"

phase stand-in-images
for image in python:3.11 postgres:16; do
    docker build -t "local/${image}-standin" "$REPO/.ci/docker/${image%%:*}" >"$W/build-${image%%:*}.log" 2>&1 \
        || { tail -30 "$W/build-${image%%:*}.log"; fail "building the $image stand-in"; }
done

phase app-image
mkdir -p "$W/reports"
DB_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$W/e2e.env" <<EOF
COMPOSE_FILE=docker-compose.yml
POSTGRES_USER=sweeper
POSTGRES_PASSWORD=$DB_PASSWORD
POSTGRES_IMAGE=local/postgres:16-standin
PGBOUNCER_BASE_IMAGE=local/debian:bookworm
PGBOUNCER_IMAGE=local/sweeper-pgbouncer:e2e
SWEEPER_DB_HOST=pgbouncer
SWEEPER_CPU_BASE_IMAGE=local/python:3.11-standin
SWEEPER_IMAGE=local/sweeper:e2e
SWEEPER_TASKS=$TASKS
SWEEPER_TRIALS=$TRIALS
SWEEPER_EVALUATE_SEEDS=2
SWEEPER_LAUNCH_ARGS=--epochs 1 --train-size 200 --batch-size 64 --pruner none
SWEEPER_GPUS=all
SWEEPER_CPU_WORKERS=2
DATA_MIRROR_DIR=$MIRROR
SWEEPER_DATA_MIRROR=/mirror
SWEEPER_TASKS_DIR=$W/tasks
SWEEPER_EXTRAS=examples
DASHBOARD_PORT=$PORT
REPORTS_DIR=$W/reports
SWEEPER_UID=$(id -u)
SWEEPER_GID=$(id -g)
EOF
compose build >"$W/build.log" 2>&1 || { tail -30 "$W/build.log"; fail "building the app image"; }

phase database
compose up -d postgres >/dev/null 2>&1
db=$(compose ps -q postgres)
for _ in $(seq 1 90); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$db")
    [ "$health" = healthy ] && break
    sleep 1
done
[ "$health" = healthy ] || fail "postgres is '$health', not healthy"
[ -z "$(docker port "$db")" ] || fail "postgres publishes a port: $(docker port "$db")"
log "postgres healthy, no published port"

phase pooler
# The image's entrypoint raised the open-file limit to compose's `ulimits` before PgBouncer started.
compose up -d pgbouncer >"$W/pooler-up.log" 2>&1 || { cat "$W/pooler-up.log"; fail "compose up pgbouncer"; }
pooler=$(compose ps -q pgbouncer)
for _ in $(seq 1 30); do
    docker logs "$pooler" >"$W/pooler.log" 2>&1
    grep -q "process up" "$W/pooler.log" && break
    sleep 1
done
sed 's/^/  /' "$W/pooler.log"
grep -q "pgbouncer-start: open-file limit 8192 for max_client_conn = 4000" "$W/pooler.log" \
    || fail "PgBouncer did not start with the open-file limit raised"
[ -z "$(docker port "$pooler")" ] || fail "pgbouncer publishes a port: $(docker port "$pooler")"
# Under a limit below what max_client_conn needs, the same image refuses to start, in one line.
set +e
docker run --rm --ulimit nofile=1024:1024 -v "$REPO/deploy/k8s/components/pooler/pgbouncer.ini:/etc/pgbouncer-sweeper/pgbouncer.ini:ro" \
    local/sweeper-pgbouncer:e2e >"$W/pooler-refused.log" 2>&1
code=$?
set -e
sed 's/^/  /' "$W/pooler-refused.log"
[ "$code" = 78 ] && [ "$(wc -l <"$W/pooler-refused.log")" = 1 ] \
    && grep -q "the open-file limit is 1024 (hard)" "$W/pooler-refused.log" \
    || fail "PgBouncer under a 1024 open-file limit did not refuse in one line (exit $code)"

phase launch
compose up -d launch worker dashboard >"$W/up.log" 2>&1 || { cat "$W/up.log"; fail "compose up"; }
launch=$(compose ps -q launch)
code=$(docker wait "$launch")
# Logs go to files first: `grep -q` closing a pipe early would fail the pipeline (pipefail).
compose logs --no-color launch >"$W/launch.log"
sed 's/^/  /' "$W/launch.log"
[ "$code" = 0 ] || fail "launch exited with $code"
for study in $STUDIES; do
    grep -q "study $study created" "$W/launch.log" || fail "launch did not create study $study"
done

phase workers
status_json() { compose exec -T dashboard sweeper status --json; }
# 600 s: four sweeps and their evaluations on 2 CPU cores, through the pooler; 131 s on an idle
# machine, more than 420 s on one loaded by other test runs.
deadline=$(($(date +%s) + 600))
while :; do
    if status_json >"$W/status.json" 2>/dev/null && python3 - "$W/status.json" "$STUDIES" "$TRIALS" <<'PY'
import json, sys
rows = {r["study"]: r for r in json.load(open(sys.argv[1]))}
want, budget = sys.argv[2].split(), int(sys.argv[3])
# Each sweep's budget, then its test-split evaluation, which the workers queue themselves.
done = [s for s in want if s in rows and rows[s]["complete"] + rows[s]["pruned"] >= budget
        and s + ".eval" in rows and rows[s + ".eval"]["complete"] + rows[s + ".eval"]["pruned"] >= rows[s + ".eval"]["budget"]]
print("  finished:", {s: (rows[s]["complete"] + rows[s]["pruned"],
                          rows.get(s + ".eval", {}).get("complete")) for s in want if s in rows})
sys.exit(0 if len(done) == len(want) else 1)
PY
    then break; fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "workers did not finish the budget in time"
    sleep 10
done
compose logs --no-color worker >"$W/worker.log"
grep -E 'supervisor|trial|budgets met' "$W/worker.log" | sed -n '1,40s/^/  /p'
grep -q "no GPU" "$W/worker.log" || fail "the worker did not announce CPU workers"
grep -q "all budgets met" "$W/worker.log" || fail "no worker reported all budgets met"
# The workers' transactions went through PgBouncer; its read-only stats user sees them.
admin() {
    compose exec -T -e PGPASSWORD="$DB_PASSWORD" postgres \
        psql -h pgbouncer -p 5432 -U pgbouncer_stats -d pgbouncer -A -F ' ' -c "$1"
}
admin "SHOW POOLS" >"$W/pools.txt" || fail "the stats user cannot read SHOW POOLS"
admin "SHOW STATS" >"$W/stats.txt" || fail "the stats user cannot read SHOW STATS"
sed 's/^/  /' "$W/pools.txt" "$W/stats.txt"
python3 - "$W/pools.txt" "$W/stats.txt" <<'PY' || fail "no worker transactions went through PgBouncer"
import sys
def rows(path):
    lines = [l.split(" ") for l in open(path).read().splitlines() if l and not l.startswith("(")]
    return [dict(zip(lines[0], row)) for row in lines[1:]]
pools = [r for r in rows(sys.argv[1]) if r["database"] == "sweeper" and r["user"] == "sweeper"]
stats = [r for r in rows(sys.argv[2]) if r["database"] == "sweeper"]
xacts = int(stats[0]["total_xact_count"]) if stats else 0
print(f"  through PgBouncer: {xacts} transactions, pool {pools[0]['pool_mode'] if pools else 'missing'}")
# (SHOW STATS totals are refreshed every stats_period, 60 s: they lag, never lead.)
sys.exit(0 if pools and pools[0]["pool_mode"] == "transaction" and xacts > 0 else 1)
PY

phase second-machine
# "Add a machine": the same worker command in a plain `docker run` of the image, pointed at the
# first stack's database (here through the compose network; across hosts through a tunnel).
network=$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' "$db")
docker run --rm --init --network "$network" -e SWEEPER_DATA_DIR=/data/cache \
    -e SWEEPER_STORAGE="postgresql+psycopg2://sweeper:$DB_PASSWORD@postgres:5432/sweeper" \
    local/sweeper:e2e sweeper worker --gpus all >"$W/second.log" 2>&1 || { cat "$W/second.log"; fail "second machine's worker"; }
sed 's/^/  /' "$W/second.log"
grep -q "all budgets met" "$W/second.log" || fail "the second machine's worker did not see the finished studies"

phase dashboard
python3 - "http://127.0.0.1:$PORT/api/studies" "$STUDIES" <<'PY' || fail "/api/studies does not list every study"
import json, sys, time, urllib.request
direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via an HTTP(S)_PROXY
for attempt in range(30):  # from the host, through the port published on 127.0.0.1
    try:
        with direct.open(sys.argv[1], timeout=5) as response:
            body = json.load(response)
        break
    except OSError as exc:
        if attempt == 29:
            sys.exit(f"  GET {sys.argv[1]}: {exc}")
        time.sleep(1)
names = {s["study_name"] for s in body.get("study_summaries", body.get("studies", []))}
print(f"  GET {sys.argv[1]}:", sorted(names))
sys.exit(0 if set(sys.argv[2].split()) <= names else 1)
PY

phase report
compose run --rm report 2>&1 | sed 's/^/  /'
for study in $STUDIES; do
    page="$W/reports/$study.html"
    [ -s "$page" ] || fail "no report page for $study under $W/reports"
    log "report page: ${page#"$W"/}"
done
# `docker compose up` ends with a test-split verdict for every study (SWEEPER_EVALUATE_SEEDS).
python3 - "$W/reports/index.html" "$STUDIES" <<'PY' || fail "the index page lacks a test-split verdict"
import html, re, sys
text = html.unescape(open(sys.argv[1]).read())
# Each study's entry leads with its headline, which is the test split's verdict once it is in.
verdicts = re.findall(r"<(?:span|div) class='verdict headline'>(.*?)</(?:span|div)>", text)
print("  headlines:", *verdicts, sep="\n    ")
bad = [v for v in verdicts if not v.startswith("On the test split: ") or "too few evaluation runs" in v]
sys.exit(0 if len(verdicts) == len(sys.argv[2].split()) and not bad else 1)
PY

phase done
log "compose end-to-end passed"
