#!/usr/bin/env bash
# SCIM 2.0 compliance, judged by an independent suite: scim2-tester (PyPI, with scim2-cli as
# its command line; pinned in tests/clients/scim-requirements.txt) discovers what the server
# advertises (ServiceProviderConfig, ResourceTypes, Schemas) and checks every endpoint and
# operation that applies: create, get, list, /.search, attributes/excludedAttributes, PUT,
# PATCH add/replace/remove on every attribute, DELETE, the discovery endpoints' 404s and 405s.
# Exit status non-zero unless every check succeeds (scim2-cli counts a skipped check as a
# failure too).
#
#   LATCHKEY_URL=http://127.0.0.1:PORT ADMIN_API_KEY=... tests/clients/scim_compliance.sh
#
# It makes a tenant of its own with a first admin, a SCIM token for it, and runs
#   scim2 --url $LATCHKEY_URL/t/TENANT/scim/v2 -h "Authorization: Bearer TOKEN" test
# The suite lives in its own virtual environment (.ci/run makes it: SCIM_VENV, default
# tests/clients/.scim-venv), since scim2-cli needs its own fork of httpx.
set -euo pipefail
: "${LATCHKEY_URL:?LATCHKEY_URL must point at a running latchkey}"
: "${ADMIN_API_KEY:?ADMIN_API_KEY must be the key the server was started with}"
here=$(cd "$(dirname "$0")" && pwd)
venv=${SCIM_VENV:-$here/.scim-venv}
root=$(cd "$here/../.." && pwd)
mkdir -p "$root/test-output"
log="$root/test-output/scim2-tester.log"
slug="scim-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
token=$(python3 - "${LATCHKEY_URL%/}" "$ADMIN_API_KEY" "$slug" <<'PY'
import json, sys, urllib.request
base, key, slug = sys.argv[1:]
def gql(path, query, variables, bearer):
    req = urllib.request.Request(base + path, json.dumps({"query": query, "variables": variables}).encode(),
                                 {"content-type": "application/json", "authorization": f"Bearer {bearer}"})
    body = json.load(urllib.request.urlopen(req, timeout=30))
    if body.get("errors"):
        sys.exit(f"{path}: {body['errors']}")
    return body["data"]
password = "a long admin passphrase"
gql("/admin/graphql", "mutation($i: CreateTenantInput!) { createTenant(input: $i) { slug } }",
    {"i": {"slug": slug, "displayName": "SCIM compliance",
           "admin": {"email": f"root@{slug}.example", "username": "root-admin", "password": password}}}, key)
req = urllib.request.Request(base + f"/t/{slug}/graphql", json.dumps({
    "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
    "variables": {"i": {"identifier": "root-admin", "password": password}}}).encode(),
    {"content-type": "application/json"})
admin = json.load(urllib.request.urlopen(req, timeout=30))["data"]["login"]["accessToken"]
made = gql(f"/t/{slug}/graphql", "mutation($i: CreateScimTokenInput!) { createScimToken(input: $i) { token } }",
           {"i": {"name": "scim2-tester"}}, admin)
print(made["createScimToken"]["token"])
PY
)
echo "scim2-tester against $LATCHKEY_URL/t/$slug/scim/v2"
rc=0
"$venv/bin/scim2" --url "${LATCHKEY_URL%/}/t/$slug/scim/v2" -h "Authorization: Bearer $token" test \
  >"$log" 2>&1 || rc=$?
cat "$log"
# scim2-cli prints one status line per check and no total: count them.
echo "scim2-tester: $(grep -cE '^[A-Z]+ ' "$log") checks: $(grep -cE '^SUCCESS ' "$log") SUCCESS," \
  "$(grep -cE '^(ERROR|CRITICAL) ' "$log") ERROR, $(grep -cE '^SKIPPED ' "$log") SKIPPED; exit $rc"
exit "$rc"
