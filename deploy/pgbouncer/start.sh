#!/bin/sh
# Starts PgBouncer with a file descriptor limit that holds its max_client_conn.
#
#   pgbouncer-start [INI]      (default /etc/pgbouncer-sweeper/pgbouncer.ini)
#
# Each client and each server connection is an open file. A container usually starts with a soft
# limit of 1024 (Debian's PgBouncer 1.18 then logged `accept() failed: Too many open files` at
# 1,011 clients, about 505 worker processes), under a hard limit that compose's `ulimits:` or the
# container runtime sets higher. So: raise the soft limit to the hard one, and refuse to start,
# with one line, when even the hard limit is below what the config needs, rather than time out
# new clients once the fleet grows. POSIX sh: the image has no other interpreter.
set -eu
ini=${1:-/etc/pgbouncer-sweeper/pgbouncer.ini}
[ -r "$ini" ] || { echo "pgbouncer-start: cannot read the config $ini: mount it there or pass its path" >&2; exit 78; }

# The last `name = number` of a setting in the config ('' when it is not set).
setting() { sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$ini" | tail -n 1; }
clients=$(setting max_client_conn)
pool=$(setting default_pool_size)
reserve=$(setting reserve_pool_size)
# PgBouncer's defaults (1.18) for what the config leaves out.
clients=${clients:-100}
pool=${pool:-20}
reserve=${reserve:-0}
# Pools: one per database and user. sweeper connects with one login, so one per database entry
# (in the config or the files it %includes; at least one).
included=$(sed -n 's/^%include[[:space:]]*//p' "$ini")
pools=$(cat "$ini" $included 2>/dev/null | grep -c '^[[:space:]]*[^;#[%[:space:]][^=]*=.*host=' || true)
[ "$pools" -ge 1 ] || pools=1
# PgBouncer's documentation bounds the files it uses by max_client_conn + pool size x pools;
# the margin covers its listening sockets, the admin console and the log.
need=$((clients + (pool + reserve) * pools + 50))

hard=$(ulimit -H -n)
if [ "$hard" != unlimited ] && [ "$hard" -lt "$need" ]; then
    echo "pgbouncer-start: the open-file limit is $hard (hard) but max_client_conn = $clients with $pools pool(s) of $((pool + reserve)) needs $need: raise the container's nofile limit (compose: ulimits: nofile; Kubernetes: the container runtime's default) or lower max_client_conn in $ini" >&2
    exit 78
fi
if [ "$hard" = unlimited ]; then
    ulimit -S -n "$need"
else
    ulimit -S -n "$hard"
fi
echo "pgbouncer-start: open-file limit $(ulimit -S -n) for max_client_conn = $clients ($need needed)" >&2
exec pgbouncer "$ini"
