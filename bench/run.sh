#!/usr/bin/env bash
# latchkey benchmark: one reproducible run, ratios against baselines measured in the same run.
#
#   bench/run.sh                       # everything, defaults below
#   DURATION=15 SCALE_USERS=1000000 TENANTS=10000 bench/run.sh
#
# Builds in release (`--features bench`: latchkey and latchkey-bench), then:
#   1. argon2 ceiling      raw argon2id verifies on all cores, nothing else running
#   2. bare framework      axum + async-graphql answering `{ __typename }` (framework ceiling)
#   3. latchkey on a fresh rocksdb:// database, LOGIN_USERS users bulk-seeded:
#      login, register, me, refresh, noisy neighbour (tenant B `me` alone / with A flooded)
#   4. scale: the same database grown to SCALE_USERS users (bulk seeding, capped at
#      SEED_MAX_SECONDS), server restarted, `me` and `login` again
#   5. tenants: a fresh database, TENANTS tenants created and touched once, idle eviction
#      (TENANT_IDLE_SECONDS=5), resident memory once latchkey_tenant_actors is 0; then
#      RETOUCH_TENANTS of them touched again and evicted again, resident memory again
# Load comes from wrk (Debian) in separate processes over loopback; every server is started
# and stopped by this script. Results: bench/results/latest.json and latest.md (printed).
#
# Environment knobs (defaults): DURATION (10 s per wrk run), LOGIN_USERS (1000),
# SCALE_USERS (1000000), SEED_MAX_SECONDS (240), TENANTS (10000), TENANT_WORKERS (8),
# TENANT_MAX_SECONDS (240: tenant creation, then touching, stop there; the counts reached are reported),
# RETOUCH_TENANTS (2000: that many of them touched again after eviction, RSS read again),
# CARGO_TARGET_DIR (./target), SKIP_BUILD (unset), KEEP_WORK (unset: temp dir removed).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
DURATION=${DURATION:-10}
LOGIN_USERS=${LOGIN_USERS:-1000}
SCALE_USERS=${SCALE_USERS:-1000000}
SEED_MAX_SECONDS=${SEED_MAX_SECONDS:-240}
TENANTS=${TENANTS:-10000}
TENANT_WORKERS=${TENANT_WORKERS:-8}
TENANT_MAX_SECONDS=${TENANT_MAX_SECONDS:-240}
RETOUCH_TENANTS=${RETOUCH_TENANTS:-2000}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PASSWORD="bench-password-4711"
SECRET="bench-secret-key-0123456789-abcdefghijklmnop"
ADMIN_KEY="bench-admin-key-0123456789"
export BENCH_LUA="$BENCH/lua" BENCH_PASSWORD="$PASSWORD"

T0=$(date +%s)
log() { printf '[bench %4ss] %s\n' "$(($(date +%s) - T0))" "$*" >&2; }

# --- tools -----------------------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
command -v python3 >/dev/null || { echo "python3 is required (JSON and the tenant client)" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is required" >&2; exit 1; }

# --- build -----------------------------------------------------------------------------
BUILD_SECS=0
if [ -z "${SKIP_BUILD:-}" ]; then
  log "cargo build --release --features bench --bins (target: $TARGET)"
  b0=$(date +%s)
  (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --features bench --bins --quiet)
  BUILD_SECS=$(($(date +%s) - b0))
  log "build took ${BUILD_SECS}s"
fi
SERVER="$TARGET/release/latchkey"
HELPER="$TARGET/release/latchkey-bench"

WORK=$(mktemp -d /tmp/latchkey-bench.XXXXXX)
OUT="$WORK/out"
mkdir -p "$OUT"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -z "${KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "work dir kept: $WORK" >&2; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval("d"+sys.argv[1]))' "$1"; }

# Resets a process's peak RSS (VmHWM) so the next reading is this scenario's peak.
reset_peak() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || true; }
rss_kib() { awk -v f="$2:" '$1==f {print $2}' "/proc/$1/status"; }

SPID=""; PORT=""; BASE=""
start_server() { # $1 database dir, $2 log name, then extra VAR=VALUE pairs
  local db=$1 name=$2; shift 2
  PORT=$(free_port); BASE="http://127.0.0.1:$PORT"
  # Every request comes from 127.0.0.1, so the per-address limits on logins and registrations
  # (a defence against one client guessing) are lifted; per-account lockout stays as it is.
  env DATABASE_URL="rocksdb://$db" SECRET_KEY="$SECRET" ADMIN_API_KEY="$ADMIN_KEY" \
    BIND_ADDR="127.0.0.1:$PORT" PUBLIC_URL="$BASE" LOG_FORMAT=json \
    RATE_LIMIT_LOGIN=1000000/60 RATE_LIMIT_REGISTER=1000000/60 "$@" \
    "$SERVER" serve >"$WORK/$name.log" 2>&1 &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 1 600); do
    curl -fs "$BASE/readyz" >/dev/null 2>&1 && { log "latchkey up on :$PORT (pid $SPID)"; return 0; }
    kill -0 "$SPID" 2>/dev/null || { cat "$WORK/$name.log" >&2; echo "server died" >&2; exit 1; }
    sleep 0.2
  done
  echo "server not ready after 120 s" >&2; exit 1
}
stop_server() {
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}

# wrk_run NAME PID_TO_MEASURE THREADS CONNECTIONS SCRIPT PATH [VAR=VALUE...]
# Runs wrk for DURATION seconds and writes $OUT/NAME.json with its summary and the peak RSS.
wrk_run() {
  local name=$1 pid=$2 threads=$3 conns=$4 script=$5 path=$6; shift 6
  [ -n "$pid" ] && reset_peak "$pid"
  log "wrk $name: -t$threads -c$conns -d${DURATION}s $script $path"
  env BENCH_PATH="$path" BENCH_THREADS="$threads" "$@" \
    wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s -s "$BENCH/lua/$script" "$BASE" \
    >"$WORK/wrk-$name.txt" 2>&1 || true
  local line; line=$(grep '^WRKJSON ' "$WORK/wrk-$name.txt" | sed 's/^WRKJSON //' || true)
  [ -n "$line" ] || { cat "$WORK/wrk-$name.txt" >&2; echo "wrk $name produced no summary" >&2; exit 1; }
  local hwm=0; [ -n "$pid" ] && hwm=$(rss_kib "$pid" VmHWM)
  python3 - "$OUT/$name.json" "$line" "$hwm" "$threads" "$conns" <<'PY'
import json, sys
path, line, hwm, threads, conns = sys.argv[1:]
d = json.loads(line)
d["rps"] = round(d["requests"] / (d["duration_us"] / 1e6), 1)
d["errors"] = d["socket_errors"] + d["timeouts"] + d["http_errors"] + d["gql_errors"]
d["peak_rss_kib"] = int(hwm)
d["wrk"] = f"-t{threads} -c{conns}"
json.dump(d, open(path, "w"))
print(f"  {d['rps']} req/s, p50 {d['p50_us']/1000:.1f} ms, p99 {d['p99_us']/1000:.1f} ms, errors {d['errors']}")
PY
}

gql() { # gql PATH JSON_BODY [TOKEN] -> response body
  local auth=()
  [ -n "${3:-}" ] && auth=(-H "authorization: Bearer $3")
  curl -fsS "$BASE$1" -H 'content-type: application/json' "${auth[@]}" -d "$2"
}
login_json() { # login_json PATH IDENTIFIER -> AuthPayload JSON
  gql "$1" "{\"query\":\"mutation { login(input: {identifier: \\\"$2\\\", password: \\\"$PASSWORD\\\"}) { accessToken refreshToken } }\"}"
}

{
  echo "{\"nproc\": $(nproc), \"cpu\": \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')\","
  echo " \"mem_total_kib\": $(awk '/MemTotal/ {print $2}' /proc/meminfo), \"kernel\": \"$(uname -r)\","
  echo " \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"duration_s\": $DURATION, \"build_s\": $BUILD_SECS,"
  echo " \"loadavg_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
  echo " \"commit\": \"$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)\"}"
} >"$OUT/machine.json"

# --- 1. argon2 ceiling ------------------------------------------------------------------
log "argon2 ceiling (${DURATION}s, all cores)"
"$HELPER" argon2-ceiling --seconds "$DURATION" >"$OUT/argon2_ceiling.json"
cat "$OUT/argon2_ceiling.json" >&2

# --- 2. bare framework ceiling -----------------------------------------------------------
PORT=$(free_port); BASE="http://127.0.0.1:$PORT"
"$HELPER" bare-server --addr "127.0.0.1:$PORT" >"$WORK/bare.log" 2>&1 &
BPID=$!; PIDS+=("$BPID")
for _ in $(seq 1 100); do curl -fs "$BASE/graphql" -H 'content-type: application/json' -d '{"query":"{ __typename }"}' >/dev/null 2>&1 && break; sleep 0.1; done
wrk_run bare "$BPID" 2 32 gql.lua /graphql BENCH_QUERY='{ __typename }'
kill "$BPID"; wait "$BPID" 2>/dev/null || true

# --- 3. latchkey, LOGIN_USERS users --------------------------------------------------------
DB="$WORK/db"
log "seeding $LOGIN_USERS users (bulk path)"
SECRET_KEY="$SECRET" "$HELPER" seed-users --database-url "rocksdb://$DB" --count "$LOGIN_USERS" \
  --password "$PASSWORD" >"$OUT/seed_small.json"
start_server "$DB" server
STARTUP_RSS=$(rss_kib "$SPID" VmRSS)

# Tenant B for the noisy-neighbour scenario, with one user.
gql /admin/graphql '{"query":"mutation { createTenant(input: {slug: \"bench-b\", displayName: \"B\"}) { slug } }"}' "$ADMIN_KEY" >/dev/null
B_TOKEN=$(gql /t/bench-b/graphql "{\"query\":\"mutation { register(input: {email: \\\"b@bench.test\\\", username: \\\"bee\\\", password: \\\"$PASSWORD\\\"}) { accessToken } }\"}" \
  | json_get '["data"]["register"]["accessToken"]')
ACCESS=$(login_json /graphql user0 | json_get '["data"]["login"]["accessToken"]')
# One refresh token per wrk connection (x2 slack), each its own session.
REFRESH_CONNS=16
: >"$WORK/refresh-tokens.txt"
for i in $(seq 1 $((REFRESH_CONNS * 2))); do
  login_json /graphql "user$i" | json_get '["data"]["login"]["refreshToken"]' >>"$WORK/refresh-tokens.txt"
done

wrk_run login "$SPID" 2 16 login.lua /graphql BENCH_USERS="$LOGIN_USERS"
wrk_run register "$SPID" 2 16 register.lua /graphql BENCH_RUN="$(date +%s)"
wrk_run me "$SPID" 2 32 gql.lua /graphql BENCH_QUERY='{ me { id email } }' BENCH_TOKEN="$ACCESS"
wrk_run refresh "$SPID" 2 "$REFRESH_CONNS" refresh.lua /graphql BENCH_TOKENS="$WORK/refresh-tokens.txt"

# Noisy neighbour: B's `me` at low concurrency, alone, then while A (default) is flooded
# with logins (hash pool saturated, HASH_CONCURRENCY = cores).
wrk_run noisy_b_alone "$SPID" 1 4 gql.lua /t/bench-b/graphql BENCH_QUERY='{ me { id email } }' BENCH_TOKEN="$B_TOKEN"
log "flooding tenant A (default) with logins in the background"
env BENCH_PATH=/graphql BENCH_USERS="$LOGIN_USERS" \
  wrk -t1 -c16 -d"$((DURATION + 2))s" --timeout 10s -s "$BENCH/lua/login.lua" "$BASE" >"$WORK/wrk-noisy_a_flood.txt" 2>&1 &
FLOOD=$!; PIDS+=("$FLOOD")
sleep 1
wrk_run noisy_b_flooded "$SPID" 1 4 gql.lua /t/bench-b/graphql BENCH_QUERY='{ me { id email } }' BENCH_TOKEN="$B_TOKEN"
wait "$FLOOD" || true
grep '^WRKJSON ' "$WORK/wrk-noisy_a_flood.txt" | sed 's/^WRKJSON //' >"$OUT/noisy_a_flood.json" || echo '{}' >"$OUT/noisy_a_flood.json"
stop_server

# --- 4. scale: grow the same tenant to SCALE_USERS --------------------------------------
EXTRA=$((SCALE_USERS - LOGIN_USERS))
if [ "$EXTRA" -gt 0 ]; then
  log "seeding $EXTRA more users (cap ${SEED_MAX_SECONDS}s)"
  SECRET_KEY="$SECRET" "$HELPER" seed-users --database-url "rocksdb://$DB" --start "$LOGIN_USERS" \
    --count "$EXTRA" --max-seconds "$SEED_MAX_SECONDS" --password "$PASSWORD" >"$OUT/seed_large.json"
  cat "$OUT/seed_large.json" >&2
  TOTAL=$((LOGIN_USERS + $(json_get '["count"]' <"$OUT/seed_large.json")))
  start_server "$DB" server-scale
  ACCESS=$(login_json /graphql "user$((TOTAL - 1))" | json_get '["data"]["login"]["accessToken"]')
  wrk_run scale_me "$SPID" 2 32 gql.lua /graphql BENCH_QUERY='{ me { id email } }' BENCH_TOKEN="$ACCESS"
  wrk_run scale_login "$SPID" 2 16 login.lua /graphql BENCH_USERS="$TOTAL"
  echo "{\"users\": $TOTAL}" >"$OUT/scale.json"
  stop_server
fi

# --- 5. many idle tenants -----------------------------------------------------------------
tenant_actors() { curl -fs "$BASE/metrics" | awk '/^latchkey_tenant_actors/ {print $2}'; }
# Waits (up to 120 s) until every tenant actor is evicted; prints the last actor count seen
# (0 unless it timed out).
wait_evicted() {
  local n=""
  for _ in $(seq 1 240); do
    n=$(tenant_actors)
    [ "$n" = 0 ] && break
    sleep 0.5
  done
  echo "$n"
}
if [ "$TENANTS" -gt 0 ]; then
  start_server "$WORK/db-tenants" server-tenants TENANT_IDLE_SECONDS=5
  sleep 1
  FRESH_RSS=$(rss_kib "$SPID" VmRSS)
  log "creating and touching $TENANTS tenants ($TENANT_WORKERS client threads)"
  python3 "$BENCH/tenants.py" "127.0.0.1:$PORT" "$ADMIN_KEY" "$TENANTS" bt "$TENANT_WORKERS" "$TENANT_MAX_SECONDS" >"$OUT/tenants_load.json"
  TENANTS_DONE=$(json_get '["count"]' <"$OUT/tenants_load.json")
  cat "$OUT/tenants_load.json" >&2
  RUNNING_AFTER_TOUCH=$(tenant_actors)
  w0=$(date +%s)
  n=$(wait_evicted)
  EVICT_WAIT=$(($(date +%s) - w0))
  sleep 2
  RSS_EVICTED=$(rss_kib "$SPID" VmRSS)
  # The same tenants again: they start without writing anything (migrations applied, keys
  # stored), so what RSS gains now is what latchkey itself keeps per started-and-evicted
  # tenant, apart from the storage engine's buffering of the first round's writes.
  RETOUCH=$(( TENANTS_DONE < RETOUCH_TENANTS ? TENANTS_DONE : RETOUCH_TENANTS ))
  log "touching $RETOUCH of them again"
  TOUCH_ONLY=1 python3 "$BENCH/tenants.py" "127.0.0.1:$PORT" "$ADMIN_KEY" "$RETOUCH" bt "$TENANT_WORKERS" "$TENANT_MAX_SECONDS" >"$OUT/tenants_retouch.json"
  RETOUCHED=$(json_get '["count"]' <"$OUT/tenants_retouch.json")
  n2=$(wait_evicted)
  sleep 2
  cat >"$OUT/tenants.json" <<EOF
{"tenants": $TENANTS_DONE, "requested": $TENANTS, "fresh_rss_kib": $FRESH_RSS, "rss_after_eviction_kib": $RSS_EVICTED,
 "peak_rss_kib": $(rss_kib "$SPID" VmHWM), "actors_after_touch": ${RUNNING_AFTER_TOUCH:-null},
 "actors_now": ${n:-null}, "eviction_wait_s": $EVICT_WAIT,
 "retouched": $RETOUCHED, "rss_after_retouch_eviction_kib": $(rss_kib "$SPID" VmRSS), "actors_after_retouch": ${n2:-null}}
EOF
  cat "$OUT/tenants.json" >&2
  stop_server
fi

echo "{\"startup_rss_kib\": ${STARTUP_RSS:-0}, \"total_s\": $(($(date +%s) - T0)), \"loadavg_at_end\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$OUT/run.json"
mkdir -p "$BENCH/results"
python3 "$BENCH/report.py" "$OUT" "$BENCH/results/latest.json" "$BENCH/results/latest.md"
cat "$BENCH/results/latest.md"
log "done in $(($(date +%s) - T0))s (build ${BUILD_SECS}s)"
