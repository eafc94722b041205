#!/usr/bin/env bash
# npm test: everything CI runs. Builds pkg/ first (a no-op when up to date),
# because the JS and type tests import the package by name, as users do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
source scripts/setup.sh # only for PATH (bun, tsc from node_modules/.bin)
setup_shells            # zsh and fish for the CLI's completion test
setup_postgres          # the PostgreSQL suites start throwaway clusters (scripts/pg.sh)

echo "== cargo test"
cargo test

js_tests=(tests/js/*.test.mjs)
echo "== node --test (${#js_tests[@]} files)"
node --test "${js_tests[@]}"
echo "== bun test (${#js_tests[@]} files)"
# The ./ prefix makes bun treat each argument as a file, not a name filter.
bun test "${js_tests[@]/#/./}"

# Node only: native modules (better-sqlite3), child processes, --expose-gc,
# real PostgreSQL servers.
shopt -s nullglob
node_only=(tests/js/*.node-test.mjs tests/multiprocess/*.node-test.mjs)
shopt -u nullglob
if ((${#node_only[@]})); then
  echo "== node --test, Node-only suites (${#node_only[@]} files)"
  node --expose-gc --test "${node_only[@]}"
fi

echo "== wasm-bindgen-test in Node, Chromium and Firefox; the browser entry"
bash scripts/test-browsers.sh

# After test-browsers.sh, which installs Chromium (scripts/browsers.sh).
echo "== the npm pack tarball: bundlers, runtimes, publint, attw, tsc (tests/packaging)"
node --test tests/packaging/*.node-test.mjs

echo "== tsc (declarations with @workglow/*, then on their own)"
tsc -p tests/types
tsc -p tests/types/tsconfig.pkg.json
echo "typecheck: ok"
