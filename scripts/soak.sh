#!/usr/bin/env bash
# npm run soak -- --sequences N [--seed S]: the model-based fault/race
# explorer (tests/model.rs) at any size, in release mode. Prints sequences,
# operations, faults injected, violations and anomalies by kind.
set -euo pipefail
cd "$(dirname "$0")/.."
sequences=100000 seed=""
while (($#)); do
  case "$1" in
    --sequences) sequences="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h | --help) echo "usage: npm run soak -- [--sequences N] [--seed S]"; exit 0 ;;
    *) echo "soak: unknown argument $1" >&2; exit 2 ;;
  esac
done
export SOAK_SEQUENCES="$sequences"
[[ -n "$seed" ]] && export SOAK_SEED="$seed"
exec cargo test --release --test model -- --nocapture --exact soak
