#!/usr/bin/env bash
# The test command: the import picture of src/ (scripts/imports.py: no import climbs back up),
# the integration tests (cargo test: real servers on ephemeral ports, real embedded SurrealDB,
# real SMTP on loopback), then the end-to-end checks against a started binary (scripts/e2e.sh:
# seed example, OpenAPI validation, browser test).
# The end-to-end part needs Debian's chromium, `npm ci` in tests/browser and the Python
# packages requests, openapi-spec-validator and pyyaml; .ci/run installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
# Link with mold when it is installed (.ci/run installs it): the test binaries carry all of
# SurrealDB. Set here, for every cargo below, rather than in .cargo/config.toml: cargo rebuilds
# everything when the linker's path changes, and a config file's relative path resolves
# differently in the copy of the repository that the README harness runs `cargo run` in.
if command -v mold >/dev/null 2>&1; then
  export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER="$PWD/scripts/linker/cc"
fi
# The layer picture of src/ (README "Layout"): no import climbs back up, no circle.
python3 scripts/imports.py --check
cargo test --locked --timings
scripts/e2e.sh
