#!/usr/bin/env bash
# Builds the wasm for Node/Bun (CommonJS, loads synchronously) and for the
# browser (ESM, async init), shrinks both with wasm-opt, and assembles pkg/:
# exactly what `npm publish pkg` would ship. Skipped when no input changed.
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
    sha256sum Cargo.toml Cargo.lock .cargo/config.toml scripts/build.sh
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
for target in nodejs web; do
  out="build/${target/nodejs/node}"
  rm -rf "$out"
  wasm-pack --log-level error build --release --mode no-install --no-pack \
    --target "$target" --out-dir "$out" -- --features nostd
  wasm-opt -Oz --strip-debug --strip-producers --strip-target-features "${wasm_features[@]}" "$out/${name}_bg.wasm" -o "$out/${name}_bg.wasm"
done

# pkg/ layout: index.d.ts (+ .d.cts for require), store.mjs (the class, shared),
# node/ (wasm-bindgen nodejs output + entries), web/ (web output + entry).
rm -rf pkg
mkdir -p pkg/node pkg/web
cp pkg-template/package.json pkg-template/README.md pkg/
cp js/index.d.ts pkg/index.d.ts
cp js/index.d.ts pkg/index.d.cts
cp js/store.mjs pkg/store.mjs
# Node extras: the encrypted file vault, the SQLite KV (with getByPrefix) and the operator CLI.
cp js/cli.mjs js/file-vault.mjs js/file-vault.d.ts js/sqlite-kv.mjs js/sqlite-kv.d.ts pkg/
chmod +x pkg/cli.mjs
for dir in node web; do
  cp -r "build/$dir/$name.js" "build/$dir/${name}_bg.wasm" "build/$dir/snippets" "pkg/$dir/"
done
cp js/node.mjs pkg/node/index.mjs
cp js/node.cjs pkg/node/index.cjs
cp js/web.js pkg/web/index.js
# pkg is "type": "module", but wasm-bindgen's nodejs glue is CommonJS, and the
# snippets it requires are ESM (loaded through require(esm)).
echo '{ "type": "commonjs" }' >pkg/node/package.json
echo '{ "type": "module" }' >pkg/node/snippets/package.json

# Check the publish list: every entry named in package.json must ship.
npm pack --dry-run --json ./pkg 2>/dev/null | node -e '
  const [{ files }] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const shipped = new Set(files.map((f) => f.path));
  const need = ["package.json", "README.md", "index.d.ts", "index.d.cts", "store.mjs",
    "cli.mjs", "file-vault.mjs", "file-vault.d.ts", "sqlite-kv.mjs", "sqlite-kv.d.ts",
    "node/index.mjs", "node/index.cjs", "node/package.json", "node/snippets/package.json",
    "node/server_credential_store_wasm.js", "node/server_credential_store_wasm_bg.wasm",
    "web/index.js", "web/server_credential_store_wasm.js", "web/server_credential_store_wasm_bg.wasm"];
  const missing = need.filter((f) => !shipped.has(f));
  if (missing.length) { console.error("build: npm pack would miss", missing); process.exit(1); }
  console.log(`build: npm pack ships ${files.length} files`);'

for dir in node web; do
  wasm="pkg/$dir/${name}_bg.wasm"
  echo "build: $wasm $(stat -c %s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped"
done
echo "$hash" >"$stamp"
echo "build: done in $((SECONDS - start))s"
