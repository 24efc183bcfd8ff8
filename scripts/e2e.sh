#!/usr/bin/env bash
# End-to-end checks against a real latchkey process on a free port of loopback, addressed as
# http://localhost:PORT (its PUBLIC_URL, so passkeys work), with an in-memory database:
#   1. the seed's Python example (examples/seed_example.py, with `requests`),
#   2. the served /openapi.json validated by openapi-spec-validator (OpenAPI 3.1),
#   3. the browser test (tests/browser: Debian's chromium driven by playwright-core; the MFA
#      example with a virtual WebAuthn authenticator),
#   4. the OpenID Connect provider through certified client libraries and that browser
#      (tests/browser/oidc.test.mjs): openid-client for a public client (discovery, PKCE, the
#      hosted sign-in page, code, userinfo, refresh) and a machine client (client_credentials);
#      examples/oidc/sign-in.mjs (the README's openid-client app) for the consent page, silent
#      SSO with prompt=none and RP-initiated logout; Authlib (tests/clients/oidc_authlib.py)
#      validating the discovery documents, then the code flow with PKCE and its id_token,
#   4b. the admin console (tests/browser/console.test.mjs): its checked-in bundle rebuilt from
#      console/ and compared, then every screen driven in that browser, scanned by axe-core,
#   5. docker/compose.yml parsed by a real YAML parser,
#   6. the clients people bring (tests/clients): the graphql-http audit of all three GraphQL
#      endpoints, graphql-js introspection compared with schema/*.graphql, jose and PyJWT
#      verifying tokens across a key rotation, schemathesis over /openapi.json,
#   7. every command of README.md as written (tests/readme/run.py: its own server, on the
#      README's port 8000, from a copy of the repository), started first, beside the others.
# Needs what .ci/run installs: chromium, `npm ci` in tests/browser, tests/clients and
# examples/oidc, and the Python packages `requests`, `openapi-spec-validator`, `pyyaml` and
# tests/clients/requirements.txt. Server log, OpenAPI document and screenshots land in
# test-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/test-output"
mkdir -p "$out"

# The binary the integration tests run: building it through the test target keeps the
# feature set that `cargo test` unified with the dev-dependencies, so after `cargo test` this
# is a no-op instead of a second build of the whole SurrealDB stack.
cargo test --locked --no-run --test api
bin="${CARGO_TARGET_DIR:-$root/target}/debug/latchkey"

# A fresh working directory: no ./.env or ./data of the developer's leaks into the run.
work=$(mktemp -d)
log="$out/e2e-server.log"
admin_key="e2e-admin-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# A port known before the server starts: passkeys (WebAuthn, in the browser test) need the
# relying party id `localhost` and the origin http://localhost:PORT, which the server derives
# from PUBLIC_URL; an IP address is not a valid RP id. The kernel picks a free port, which is
# released for the server to bind (on loopback only); every client below uses localhost.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# Login and registration limits lifted: every request comes from 127.0.0.1, and the fuzzers
# sign in and register thousands of times (the limits themselves are tested in tests/api).
(
  cd "$work"
  exec env DATABASE_URL=mem:// \
    SECRET_KEY="e2e-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')" \
    BIND_ADDR="127.0.0.1:$port" PUBLIC_URL="http://localhost:$port" \
    LOG_FORMAT=json SERVE_EXAMPLES=true ADMIN_API_KEY="$admin_key" \
    RATE_LIMIT_LOGIN=1000000/60 LOGIN_FAILURES_PER_ADDRESS=1000000/900 \
    RATE_LIMIT_REGISTER=1000000/600 OUTBOUND_ALLOW_PRIVATE_NETWORKS=true "$bin"
) >"$log" 2>&1 &
server=$!
# The README's commands run their own server on the README's port 8000 from a copy of the
# repository (tests/readme/run.py) and touch nothing of the server above: they run beside the
# steps below, mostly waiting on their servers (~30 s of wall time saved on 2 cores).
readme_log="$out/readme-step.log"
python3 tests/readme/run.py >"$readme_log" 2>&1 &
readme=$!
cleanup() {
  kill "$server" "$readme" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  wait "$readme" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export LATCHKEY_URL="http://localhost:$port" ADMIN_API_KEY="$admin_key"
# Ready once /readyz answers 200 (through the name `localhost`, as the clients connect).
ready() {
  python3 - "$LATCHKEY_URL/readyz" <<'PY' 2>/dev/null
import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)
PY
}
up=""
for _ in $(seq 1 300); do
  ready && { up=1; break; }
  kill -0 "$server" 2>/dev/null || { cat "$log"; echo "e2e: the server exited (port $port taken meanwhile?)" >&2; exit 1; }
  sleep 0.1
done
[ -n "$up" ] || { cat "$log"; echo "e2e: the server did not answer $LATCHKEY_URL/readyz in 30 s" >&2; exit 1; }
echo "e2e: latchkey at $LATCHKEY_URL"

passed=0
failed=0
step() {
  local name=$1 started=$SECONDS
  shift
  echo "--- e2e: $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "--- e2e: $name: ok ($((SECONDS - started)) s)"
  else
    failed=$((failed + 1))
    echo "--- e2e: $name: FAILED ($((SECONDS - started)) s)"
  fi
}

openapi() {
  python3 - "$LATCHKEY_URL/openapi.json" "$out/openapi.json" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1]) as r:
    open(sys.argv[2], "wb").write(r.read())
PY
  openapi-spec-validator "$out/openapi.json"
}

# tests/api/docker.rs reads compose.yml line by line; a real YAML parser (PyYAML, which
# openapi-spec-validator depends on) makes sure Docker would read the same structure.
compose() {
  python3 - docker/compose.yml <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
services = doc["services"]
assert set(services) == {"latchkey", "latchkey-2", "proxy", "surrealdb", "mailpit"}, services.keys()
for name, svc in services.items():
    assert "test" in svc["healthcheck"], name
env = services["latchkey"]["environment"]
assert env["DATABASE_URL"].startswith("ws://surrealdb:"), env
assert env["SMTP_URL"].startswith("smtp://mailpit:"), env
# The cluster profile: a second node with the very same settings, and the proxy in front.
cluster = sorted(n for n, s in services.items() if "cluster" in s.get("profiles", []))
assert cluster == ["latchkey-2", "proxy"], cluster
assert services["latchkey-2"]["environment"] == env, "both nodes are configured alike"
proxy = services["proxy"]
assert all(f"--to {n}:8000" in proxy["command"] for n in ("latchkey", "latchkey-2")), proxy
assert proxy["networks"]["default"]["ipv4_address"] == env["TRUSTED_PROXIES"], proxy
print("compose.yml:", ", ".join(sorted(env)), "| profile cluster:", ", ".join(cluster))
PY
}

step "compose.yml parses" compose
step "seed example (python requests)" python3 examples/seed_example.py
step "openapi.json validates" openapi
step "browser (chromium)" bash -c 'cd tests/browser && node --test --test-concurrency=1 browser.test.mjs'
step "OIDC (openid-client, Authlib, chromium)" bash -c 'cd tests/browser && node --test --test-concurrency=1 oidc.test.mjs'
# Federation: the hosted sign-in page's provider buttons, a click through a real upstream
# (tests/upstream's oidc-provider on 127.0.0.1; the server above may call loopback for it).
step "federation (oidc-provider upstream, chromium)" bash -c 'cd tests/browser && node --test --test-concurrency=1 federation.test.mjs'
# The admin console: its bundle is what console/ builds (GraphQL types generated from
# schema/*.graphql, tsc, esbuild), then every screen driven in Chromium with axe-core scans.
step "console bundle = console/ source (codegen, tsc, esbuild)" scripts/console.sh --check
step "console (chromium, axe-core)" bash -c 'cd tests/browser && node --test --test-concurrency=1 console.test.mjs'
step "graphql-http audits (3 endpoints)" node tests/clients/audit.mjs
step "introspection = schema/*.graphql (graphql-js)" node tests/clients/introspection.mjs
step "JWKS rotation (jose)" node tests/clients/jwks_rotation.mjs
step "JWKS rotation (PyJWT)" python3 tests/clients/jwks_rotation.py
step "schemathesis (openapi.json)" tests/clients/schemathesis.sh
step "SCIM compliance (scim2-tester)" tests/clients/scim_compliance.sh
readme_done() {
  local rc=0
  wait "$readme" || rc=$?
  cat "$readme_log"
  return "$rc"
}
step "README commands (started beside the steps above)" readme_done

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
