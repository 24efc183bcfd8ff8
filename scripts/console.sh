#!/usr/bin/env bash
# Builds the admin console (console/) into assets/console/, which the binary embeds, so
# `cargo build` never needs npm. Steps: GraphQL types generated from schema/*.graphql
# (GraphQL Code Generator), the type check (tsc), the bundle (esbuild).
#   scripts/console.sh          rebuild assets/console/ (after changing console/ or the schema)
#   scripts/console.sh --check  what CI runs: the same steps, failing when the checked-in
#                               bundle differs from what the source builds (or the types break)
set -euo pipefail
cd "$(dirname "$0")/../console"
[ -d node_modules ] || npm ci --no-audit --no-fund
npx graphql-codegen --config codegen.ts
npx tsc --noEmit
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
  node build.mjs --out "$out"
  for f in console.js console.css; do
    if ! cmp -s "$out/$f" "../assets/console/$f"; then
      echo "console: assets/console/$f differs from what console/ builds; run scripts/console.sh and commit" >&2
      exit 1
    fi
  done
  echo "console: types check, assets/console matches its source ($(gzip -9c ../assets/console/console.js | wc -c) bytes of script gzipped)"
else
  node build.mjs
  echo "console: built assets/console ($(gzip -9c ../assets/console/console.js | wc -c) bytes of script gzipped)"
fi
