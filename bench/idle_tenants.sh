#!/usr/bin/env bash
# Idle tenants' memory and cold starts (issue 28), on an embedded RocksDB database in a temp dir:
#   bench/idle_tenants.sh BINARY N      e.g. bench/idle_tenants.sh target/release/latchkey 10000
# (1) a fresh server: N tenants created and touched once (8 client threads), all evicted
#     (TENANT_IDLE_SECONDS=5): resident memory growth per tenant over the fresh server; then
#     the first request to 40 of them against the same request warm (cold_start.py);
# (2) the same database, the server restarted: all N touched once (no migrations run now), all
#     evicted: growth per tenant again, and cold starts again.
# Phase 1 includes what SurrealDB keeps for every index defined in this process (the tenants'
# migrations); phase 2 is what an idle tenant costs a server that did not create it.
set -e
BIN=$1; N=$2
W=$(mktemp -d); PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
export DATABASE_URL="rocksdb://$W/db" BIND_ADDR="127.0.0.1:$PORT" PUBLIC_URL="http://127.0.0.1:$PORT" SECRET_KEY=cold-start-secret-0123456789abcdefghijkl ADMIN_API_KEY=cold-admin-key-0123456789 TENANT_IDLE_SECONDS=5 RUST_LOG=warn
ready() { for i in $(seq 1 600); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && return; sleep 0.1; done; }
evicted() { for i in $(seq 1 600); do n=$(curl -fs "http://127.0.0.1:$PORT/metrics" | awk '/^latchkey_tenant_actors/ {print $2}'); [ "$n" = 0 ] && break; sleep 0.5; done; echo $n; }
rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }
"$BIN" >"$W/log1" 2>&1 & SP=$!; ready; sleep 2; R0=$(rss $SP)
T0=$(date +%s); python3 "$(dirname "$0")/tenants.py" 127.0.0.1:$PORT cold-admin-key-0123456789 $N ct 8 0; T1=$(date +%s)
n=$(evicted); sleep 3; R1=$(rss $SP)
echo "phase 1 (created+touched $N in $((T1-T0)) s): actors $n rss_fresh_kib $R0 rss_evicted_kib $R1 per_tenant_kib $(( (R1-R0)/N ))"
python3 "$(dirname "$0")/cold_start.py" 127.0.0.1:$PORT ct 0 40
kill $SP; wait $SP || true
"$BIN" >"$W/log2" 2>&1 & SP=$!; ready; sleep 2; R0=$(rss $SP)
T0=$(date +%s); TOUCH_ONLY=1 python3 "$(dirname "$0")/tenants.py" 127.0.0.1:$PORT cold-admin-key-0123456789 $N ct 8 0; T1=$(date +%s)
n=$(evicted); sleep 3; R1=$(rss $SP)
echo "phase 2 (restarted, all $N touched once in $((T1-T0)) s): actors $n rss_fresh_kib $R0 rss_evicted_kib $R1 per_tenant_kib $(( (R1-R0)/N ))"
python3 "$(dirname "$0")/cold_start.py" 127.0.0.1:$PORT ct 0 40
kill $SP; wait $SP || true
rm -rf "$W"
