#!/usr/bin/env bash
# Builds the wasm once (wasm-bindgen's web output: ESM), shrinks it with
# wasm-opt, and assembles pkg/: exactly what `npm publish pkg` would ship.
# Browsers load web/index.js (async init); Node and Bun load node/index.mjs,
# one module bundling the same glue with a synchronous instantiation of the
# same .wasm (scripts/bundle-node.mjs). Skipped when no input changed.
#
#   bash scripts/build.sh           # FORCE=1 to rebuild anyway
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_all

# Everything the output depends on; a change in any of it means a rebuild.
inputs_hash() {
  {
    find src js pkg-template -type f -print0 | sort -z | xargs -0 sha256sum
    sha256sum Cargo.toml Cargo.lock .cargo/config.toml scripts/build.sh scripts/bundle-node.mjs scripts/short-imports.mjs
    rustc --version
    wasm-bindgen --version
  } | sha256sum
}

# Tests and examples import the package by name, as users do. Made on every
# run: npm ci/install (in setup) drops it even when pkg/ is up to date.
ln -sfn ../pkg node_modules/server-credential-store-wasm

stamp=build/.stamp
hash="$(inputs_hash)"
if [[ -z "${FORCE:-}" && -f pkg/package.json && "$(cat "$stamp" 2>/dev/null)" == "$hash" ]]; then
  echo "build: up to date (FORCE=1 to rebuild)"
  exit 0
fi

start=$SECONDS
name=server_credential_store_wasm
# `strip = true` in Cargo.toml drops the target_features section, so tell
# wasm-opt the features rustc enables by default for wasm32-unknown-unknown
# (all in Node >= 20 and current browsers); it uses none beyond these.
wasm_features=(--enable-mutable-globals --enable-sign-ext --enable-reference-types
  --enable-multivalue --enable-bulk-memory --enable-bulk-memory-opt
  --enable-nontrapping-float-to-int --enable-call-indirect-overlong)
# Cargo.toml turns wasm-pack's own wasm-opt off; --mode no-install stops
# wasm-pack from trying to download tools (setup put them on PATH), and
# log level "error" hides its update check, which cannot reach its server.
# The nostd feature: the shipped module has no std (src/lib.rs).
out=build/web
rm -rf build/node "$out"
wasm-pack --log-level error build --release --mode no-install --no-pack \
  --target web --out-dir "$out" -- --features nostd
wasm-opt -Oz --strip-debug --strip-producers --strip-target-features "${wasm_features[@]}" "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
node scripts/short-imports.mjs "$out/${name}_bg.wasm" "$out/$name.js"

# pkg/ layout: index.d.ts (+ .d.cts for require), store.mjs (the class, for
# the browser entry), web/ (wasm-bindgen web output + entry), node/ (the
# bundled entry + a CommonJS door to it).
rm -rf pkg
mkdir -p pkg/node pkg/web
cp pkg-template/package.json pkg-template/README.md pkg/
cp js/index.d.ts pkg/index.d.ts
cp js/index.d.ts pkg/index.d.cts
cp js/store.mjs pkg/store.mjs
# Node extras: the encrypted file vault, the SQLite KV (with getByPrefix), the
# PostgreSQL backends and the operator CLI.
cp js/cli.mjs js/file-vault.mjs js/file-vault.d.ts js/sqlite-kv.mjs js/sqlite-kv.d.ts pkg/
cp js/postgres.mjs js/postgres.d.ts pkg/
chmod +x pkg/cli.mjs
cp -r "$out/$name.js" "$out/${name}_bg.wasm" "$out/snippets" pkg/web/
cp js/web.js pkg/web/index.js
node scripts/bundle-node.mjs pkg/web pkg/node/index.mjs
cp js/node.cjs pkg/node/index.cjs

# Check the publish list: every entry named in package.json must ship.
npm pack --dry-run --json ./pkg 2>/dev/null | node -e '
  const [{ files }] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const shipped = new Set(files.map((f) => f.path));
  const need = ["package.json", "README.md", "index.d.ts", "index.d.cts", "store.mjs",
    "cli.mjs", "file-vault.mjs", "file-vault.d.ts", "sqlite-kv.mjs", "sqlite-kv.d.ts",
    "postgres.mjs", "postgres.d.ts",
    "node/index.mjs", "node/index.cjs",
    "web/index.js", "web/server_credential_store_wasm.js", "web/server_credential_store_wasm_bg.wasm"];
  const missing = need.filter((f) => !shipped.has(f));
  if (missing.length) { console.error("build: npm pack would miss", missing); process.exit(1); }
  console.log(`build: npm pack ships ${files.length} files`);'

wasm="pkg/web/${name}_bg.wasm"
echo "build: $wasm $(stat -c %s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped"
echo "$hash" >"$stamp"
echo "build: done in $((SECONDS - start))s"
