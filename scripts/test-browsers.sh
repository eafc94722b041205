#!/usr/bin/env bash
# The wasm-bindgen-test suite (tests/node.rs and tests/browser.rs, both over
# tests/suite/) in Node, headless Chromium and headless Firefox, then the npm
# package's browser entry in headless Chromium (tests/browser-entry/).
# Prints the tests passed and the seconds taken per environment. A missing
# browser or driver fails the run, and so does an environment that ran no
# test: nothing is skipped silently. Every environment runs even if one
# fails, so one run shows them all.
#
#   bash scripts/test-browsers.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# build.sh installs the toolchain (scripts/setup.sh) and builds pkg/ for the
# browser entry; it is a no-op when pkg/ is up to date.
bash scripts/build.sh
source scripts/setup.sh # PATH only: ~/.cargo/bin (wasm-pack, the test runner, geckodriver)
source scripts/browsers.sh
install_browsers
require_browsers

seconds_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --mode no-install: wasm-pack must use the tools on PATH, never download.
# `--test node|browser` runs only the wasm suites, not tests/protocol.rs,
# which cargo test already runs natively.
# Compiled first, as wasm-pack's own build step does, so that the times
# below are the test runs alone.
echo "== compile the wasm test binaries"
start=$EPOCHREALTIME
cargo build --target wasm32-unknown-unknown --tests --test node --test browser
echo "compiled in $(seconds_since "$start")s"

names=() passed=() failed=() times=() status=0

# record NAME PASSED FAILED START RC
record() {
  names+=("$1") passed+=("$2") failed+=("$3") times+=("$(seconds_since "$4")")
  if (($5 != 0 || $2 == 0)); then
    status=1
    echo "$1: FAILED (exit $5, $2 passed, $3 failed)" >&2
  fi
}

# wasm NAME TEST-TARGET WASM-PACK-FLAGS...
wasm() {
  local name=$1 target=$2 log rc=0 start=$EPOCHREALTIME
  shift 2
  log="$(mktemp)"
  echo "== $name: wasm-pack test $* -- --test $target"
  wasm-pack --log-level warn test "$@" --mode no-install -- --test "$target" 2>&1 | tee "$log" || rc=$?
  # One "test result:" line per test binary run.
  local counts
  counts="$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" |
    awk '{ p += $4; f += $6 } END { print p + 0, f + 0 }')"
  rm -f "$log"
  record "$name" "${counts% *}" "${counts#* }" "$start" "$rc"
}

wasm wasm-node node --node
wasm wasm-chrome browser --headless --chrome
wasm wasm-firefox browser --headless --firefox

echo "== browser-entry: node tests/browser-entry/run.mjs"
start=$EPOCHREALTIME
log="$(mktemp)"
rc=0
node tests/browser-entry/run.mjs 2>&1 | tee "$log" || rc=$?
counts="$(grep -oE '^browser-entry: [0-9]+ passed, [0-9]+ failed$' "$log" | awk '{ print $2, $4 }')"
rm -f "$log"
record browser-entry "${counts% *}" "${counts#* }" "$start" "$rc"
[[ -n "$counts" ]] || status=1

echo "== summary"
total_passed=0 total_failed=0
for i in "${!names[@]}"; do
  printf '%s: %s passed, %s failed in %ss\n' "${names[i]}" "${passed[i]:-0}" "${failed[i]:-0}" "${times[i]}"
  total_passed=$((total_passed + ${passed[i]:-0}))
  total_failed=$((total_failed + ${failed[i]:-0}))
done
echo "test-browsers: $total_passed passed, $total_failed failed"
exit "$status"
