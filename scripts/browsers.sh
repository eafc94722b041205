#!/usr/bin/env bash
# Browsers and WebDriver binaries for scripts/test-browsers.sh: Chromium,
# chromedriver and Firefox ESR from Debian, geckodriver from crates.io (the
# test tools' own browser downloads cannot work on our machines). Each step
# checks first, so a second run installs nothing and runs no apt-get update.
#
#   source scripts/browsers.sh && install_browsers && require_browsers
#   bash scripts/browsers.sh       # the same, as a command

export PATH="$HOME/.cargo/bin:$PATH"

browsers_log() { echo "browsers: $*" >&2; }

install_browsers() {
  local pkgs=(chromium chromium-driver firefox-esr) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    browsers_log "installing ${missing[*]} (apt, as root)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if ! command -v geckodriver >/dev/null; then
    browsers_log "installing geckodriver"
    cargo install geckodriver --locked
  fi
}

# A browser test must fail, never skip, when its browser or driver is missing.
require_browsers() {
  local bin ok=1
  for bin in chromium chromedriver firefox geckodriver; do
    if ! command -v "$bin" >/dev/null; then
      browsers_log "missing: $bin (run scripts/browsers.sh)"
      ok=0
    fi
  done
  ((ok)) || return 1
}

# Run when executed, not when sourced.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  install_browsers
  require_browsers
  browsers_log "ready: $(chromium --version 2>/dev/null), $(firefox --version 2>/dev/null), $(geckodriver --version | sed -n 1p)"
fi
