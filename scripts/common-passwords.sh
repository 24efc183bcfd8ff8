#!/usr/bin/env bash
# Regenerates assets/common-passwords.txt: the 20,000-entry common password list (Royce
# Williams' list, as curated and shipped by Django in django/contrib/auth/common-passwords.txt.gz,
# BSD-3-Clause) taken from the Django wheel on PyPI, lower-cased, one per line, deduplicated in
# the original frequency order. The file is compiled into the binary (include_str!).
set -euo pipefail
cd "$(dirname "$0")/.."
version="${DJANGO_VERSION:-5.2.19}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pip download "django==${version}" --no-deps -d "$tmp" -q
unzip -q -o "$tmp"/django-*.whl 'django/contrib/auth/common-passwords.txt.gz' -d "$tmp"
zcat "$tmp/django/contrib/auth/common-passwords.txt.gz" \
  | tr -d '\r' | tr '[:upper:]' '[:lower:]' | awk 'length > 0 && !seen[$0]++' \
  > assets/common-passwords.txt
echo "assets/common-passwords.txt: $(wc -l < assets/common-passwords.txt) passwords (Django ${version})"
