#!/usr/bin/env bash
# Installs Debian's `chromium` (the browser the explorer's test drives through playwright-core)
# when it is missing; does nothing, silently, when it is there. Playwright's own browser
# download cannot work on these machines (only the npm registry and Debian's packages are
# reachable). Needs root (it is, on the project's machines and in CI). Idempotent and quiet:
# one line when it installs, its errors when it fails.
set -euo pipefail
CHROMIUM="${ENIGMA_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-chromium: $CHROMIUM is missing and cannot be installed here (needs root and apt-get): install Debian's chromium package" >&2
  exit 1
fi
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "ensure-chromium: installing chromium failed" >&2
  exit 1
fi
rm -f "$log"
echo "ensure-chromium: chromium installed in $(($(date +%s) - start)) s ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))" >&2
