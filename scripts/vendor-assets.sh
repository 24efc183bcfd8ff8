#!/usr/bin/env bash
# Rebuilds the browser assets latchkey embeds and serves itself (no CDN: identity servers
# run in closed networks). Needs node and npm with access to the npm registry; the output
# under assets/ is checked in, so building latchkey never needs npm.
#
#   assets/docs/      swagger-ui-bundle.js, swagger-ui.css (Swagger UI at /docs),
#                     redoc.standalone.js (ReDoc at /redoc), copied from the npm packages
#   assets/graphiql/  graphiql.js, graphiql.css: GraphiQL + React bundled by esbuild from
#                     scripts/graphiql/entry.jsx
#
# Versions are pinned here so a rerun reproduces the same files.
set -euo pipefail
cd "$(dirname "$0")/.."

SWAGGER_UI_DIST=5.30.2
REDOC=2.5.4
GRAPHIQL=3.8.3
GRAPHQL=16.11.0
REACT=18.3.1
ESBUILD=0.25.9

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir -p assets/docs assets/graphiql

# Viewers: prebuilt dist files, taken straight from the published packages.
(cd "$work" && npm pack --silent "swagger-ui-dist@$SWAGGER_UI_DIST" "redoc@$REDOC" >/dev/null)
tar -xzf "$work/swagger-ui-dist-$SWAGGER_UI_DIST.tgz" -C "$work"
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" assets/docs/
rm -rf "$work/package"
tar -xzf "$work/redoc-$REDOC.tgz" -C "$work"
cp "$work/package/bundles/redoc.standalone.js" assets/docs/
rm -rf "$work/package"
# ReDoc's "API docs by Redocly" footer loads its logo from a CDN; use an empty inline SVG so
# the page makes no outside request (tests/browser fails on any).
redoc_logo='src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
grep -qF "$redoc_logo" assets/docs/redoc.standalone.js
sed -i "s#$redoc_logo#src:\"data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27/%3E\"#" \
  assets/docs/redoc.standalone.js
if grep -qF 'cdn.redoc.ly' assets/docs/redoc.standalone.js; then
  echo "vendor-assets: redoc.standalone.js still refers to its CDN" >&2
  exit 1
fi

# GraphiQL: one self-contained bundle (React included), built from our small entry file.
mkdir -p "$work/graphiql"
cp scripts/graphiql/entry.jsx "$work/graphiql/"
(
  cd "$work/graphiql"
  npm init -y >/dev/null
  npm install --silent --no-audit --no-fund --save-exact \
    "graphiql@$GRAPHIQL" "graphql@$GRAPHQL" "react@$REACT" "react-dom@$REACT" "esbuild@$ESBUILD"
  npx --no-install esbuild entry.jsx --bundle --minify --format=iife --target=es2020 \
    --define:process.env.NODE_ENV='"production"' --legal-comments=none \
    --loader:.woff=empty --loader:.woff2=empty --loader:.ttf=empty \
    --outfile=out/graphiql.js
)
cp "$work/graphiql/out/graphiql.js" "$work/graphiql/out/graphiql.css" assets/graphiql/

cat > assets/VERSIONS <<VERSIONS
# Written by scripts/vendor-assets.sh; the npm packages the files under assets/ come from.
swagger-ui-dist $SWAGGER_UI_DIST
redoc $REDOC
graphiql $GRAPHIQL
graphql $GRAPHQL
react $REACT
react-dom $REACT
esbuild $ESBUILD
VERSIONS
ls -l assets/docs assets/graphiql
