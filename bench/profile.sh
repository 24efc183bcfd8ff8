#!/usr/bin/env bash
# Profiles latchkey under one wrk scenario with `perf record` (software cpu-clock event, so it
# works where hardware counters are not exposed, as in VMs), and prints the hottest symbols.
#
#   bench/profile.sh me|refresh|login [SECONDS] [extra VAR=VALUE for the server...]
#   DB_SUFFIX="?sync=never" bench/profile.sh refresh     # the same without fsync per commit
#   PERF_CALLGRAPH="--call-graph dwarf" bench/profile.sh me 3   # real call stacks (big perf.data)
#
# Needs a release build (bench/run.sh makes one; CARGO_TARGET_DIR as there) and `perf`
# (Debian: linux-perf). Output: the top of `perf report --no-children` by symbol, and the
# same by shared object; the perf.data file stays in the printed temp dir.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
SCENARIO=${1:?me, refresh or login}
SECS=${2:-8}
shift $(( $# >= 2 ? 2 : 1 ))
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER="$TARGET/release/latchkey"; HELPER="$TARGET/release/latchkey-bench"
PASSWORD="bench-password-4711"; SECRET="bench-secret-key-0123456789-abcdefghijklmnop"
export BENCH_LUA="$BENCH/lua" BENCH_PASSWORD="$PASSWORD" BENCH_PATH=/graphql BENCH_THREADS=2 BENCH_USERS=1000
WORK=$(mktemp -d /tmp/latchkey-profile.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"

SECRET_KEY="$SECRET" "$HELPER" seed-users --database-url "rocksdb://$WORK/db" --count 1000 >/dev/null
env DATABASE_URL="rocksdb://$WORK/db${DB_SUFFIX:-}" SECRET_KEY="$SECRET" BIND_ADDR="127.0.0.1:$PORT" \
  PUBLIC_URL="$BASE" RATE_LIMIT_LOGIN=1000000/60 RATE_LIMIT_REGISTER=1000000/60 "$@" "$SERVER" serve >"$WORK/server.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null || true' EXIT
until curl -fs "$BASE/readyz" >/dev/null 2>&1; do sleep 0.2; done
login() {
  curl -fsS "$BASE/graphql" -H 'content-type: application/json' -d "{\"query\":\"mutation { login(input: {identifier: \\\"$1\\\", password: \\\"$PASSWORD\\\"}) { accessToken refreshToken } }\"}" \
    | python3 -c "import json,sys; print(json.load(sys.stdin)['data']['login']['$2'])"
}
case $SCENARIO in
  me) export BENCH_QUERY='{ me { id email } }' BENCH_TOKEN=$(login user0 accessToken); SCRIPT=gql.lua; C=32 ;;
  refresh) for i in $(seq 1 32); do login "user$i" refreshToken; done >"$WORK/tokens"
           export BENCH_TOKENS="$WORK/tokens"; SCRIPT=refresh.lua; C=16 ;;
  login) SCRIPT=login.lua; C=16 ;;
  *) echo "unknown scenario $SCENARIO" >&2; exit 2 ;;
esac
wrk -t2 -c"$C" -d"$((SECS + 2))s" -s "$BENCH/lua/$SCRIPT" "$BASE" >"$WORK/wrk.txt" 2>&1 &
WPID=$!
sleep 1
perf record -e cpu-clock -F 499 ${PERF_CALLGRAPH:--g} -p "$SPID" -o "$WORK/perf.data" -- sleep "$SECS" 2>/dev/null
wait "$WPID" || true
grep -E 'Requests/sec|WRKJSON' "$WORK/wrk.txt"
echo "--- by shared object"
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12 || true
echo "--- by symbol"
perf report -i "$WORK/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40 || true
echo "perf data: $WORK/perf.data"
