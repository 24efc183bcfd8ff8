#!/usr/bin/env bash
# The test command: the import picture of src/ (scripts/imports.py: no import climbs back up),
# the integration tests (cargo test: real servers on ephemeral ports, real embedded SurrealDB,
# real SMTP on loopback), then the end-to-end checks against a started binary (scripts/e2e.sh:
# seed example, OpenAPI validation, browser test).
# The end-to-end part needs Debian's chromium, `npm ci` in tests/browser and the Python
# packages requests, openapi-spec-validator and pyyaml; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# The layer picture of src/ (README "Layout"): no import climbs back up, no circle.
python3 scripts/imports.py --check
cargo test --locked
scripts/e2e.sh
