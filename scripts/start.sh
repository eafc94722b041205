#!/usr/bin/env bash
# npm start: install what is missing, build pkg/ if stale, run the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
node examples/quickstart.mjs
