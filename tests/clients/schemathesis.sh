#!/usr/bin/env bash
# Property-based checks of the REST API against its own OpenAPI document, the way an API's
# users run them: schemathesis (PyPI, pinned in requirements.txt) reads $LATCHKEY_URL/openapi.json
# and fires generated requests, valid and invalid, at every operation with every check it
# has (server errors, status codes, content types, headers and bodies against the document,
# acceptance of valid and rejection of invalid data, auth that is ignored, ...), and every
# warning counts as a finding too (schemathesis.toml).
#
#   LATCHKEY_URL=http://127.0.0.1:PORT tests/clients/schemathesis.sh
#
# Bounded, not timed: at most SCHEMATHESIS_MAX_EXAMPLES (1000) cases per operation and phase,
# with a fixed seed, so a run is repeatable; ~1 minute on 2 cores against a debug build
# today, at most a few once more generated data passes validation. `timeout` is only the
# backstop. Exit status non-zero on any finding.
#
# The server must not throttle logins from 127.0.0.1: the secured operations log in afresh
# for every request (schemathesis_hooks.py) and the login operation is fuzzed with wrong
# passwords, and registration is fuzzed with a thousand accounts, so start it with
# RATE_LIMIT_LOGIN=1000000/60 LOGIN_FAILURES_PER_ADDRESS=1000000/900 RATE_LIMIT_REGISTER=1000000/600
# (scripts/e2e.sh does); the limits' 429 answers are documented and tested by the Rust suite.
# Reports (JUnit XML, and a pytest file that reproduces each failure) land in
# test-output/schemathesis/.
set -euo pipefail
: "${LATCHKEY_URL:?LATCHKEY_URL must point at a running latchkey}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/test-output/schemathesis"
rm -rf "$out"
mkdir -p "$out"
python=${PYTHON:-python3}

# An account of its own for the secured operations (tokens: schemathesis_hooks.py).
export SCHEMATHESIS_USERNAME="st-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
export SCHEMATHESIS_PASSWORD="generated requests against a documented api"
# And the account the document's own login example names, so that example signs in.
"$python" - "${LATCHKEY_URL%/}/api/auth/register" <<'PY'
import json, os, sys, urllib.error, urllib.request
user = os.environ["SCHEMATHESIS_USERNAME"]
accounts = [
    {"email": f"{user}@example.com", "username": user, "password": os.environ["SCHEMATHESIS_PASSWORD"]},
    {"email": "ada@example.com", "username": "ada", "password": "correct horse battery"},
]
for body in accounts:
    req = urllib.request.Request(sys.argv[1], data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            assert r.status == 201, r.status
    except urllib.error.HTTPError as e:
        # The example account may exist already (an earlier check on this server made it).
        assert e.code == 409 and body["username"] == "ada", (e.code, e.read())
print(f"schemathesis: signed up {user} for the secured operations, and the example account")
PY

# A scratch working directory: hypothesis writes .hypothesis/ into the current one.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

status=0
SCHEMATHESIS_HOOKS=schemathesis_hooks PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" \
  timeout --signal=INT --kill-after=30 "${SCHEMATHESIS_TIMEOUT:-420}" \
  "$python" -m schemathesis.cli --config-file "$here/schemathesis.toml" \
  run "${LATCHKEY_URL%/}/openapi.json" \
  --url "${LATCHKEY_URL%/}" \
  --checks all \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-1000}" \
  --seed 1 \
  --workers 2 \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  --output-sanitize false \
  --continue-on-failure \
  --report junit,pytest \
  --report-dir "$out" \
  || status=$?

case $status in
  0) echo "schemathesis: no findings" ;;
  124 | 130 | 137) echo "schemathesis: did not finish in ${SCHEMATHESIS_TIMEOUT:-420} s" ;;
  *) echo "schemathesis: findings above (exit $status); reports in test-output/schemathesis/" ;;
esac
case $status in
  0 | 124 | 130 | 137) ;;
  *)
    if grep -qs "Authentication Error" "$out"/junit-*.xml; then
      echo "schemathesis: logging in failed mid-run: was the server started with the relaxed login limits above?"
    fi
    ;;
esac
exit "$status"
