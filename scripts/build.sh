#!/usr/bin/env bash
# Builds the wasm once (wasm-bindgen's web output: ESM), shrinks it with
# wasm-opt, and assembles pkg/: exactly what `npm publish pkg` would ship.
# Every runtime and bundler but workerd loads node/index.mjs: one module
# bundling the glue with the .wasm inlined and instantiated on import
# (scripts/bundle-node.mjs); workerd loads web/workerd.mjs, which imports the
# .wasm as a module; `./web` is wasm-bindgen's glue with the .wasm as a
# separate file (async init). Skipped when no input changed.
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
    sha256sum Cargo.toml Cargo.lock .cargo/config.toml LICENSE scripts/build.sh scripts/bundle-node.mjs scripts/cjs-door.mjs scripts/short-imports.mjs
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
# the web entry), node/ (the entry for every runtime and bundler + its
# CommonJS door), web/ (wasm-bindgen web output, its entry and the workerd
# entry). Every ES module entry has a CommonJS door (scripts/cjs-door.mjs:
# require(esm), one module instance) and declarations for both.
rm -rf pkg
mkdir -p pkg/node pkg/web
cp pkg-template/package.json pkg-template/README.md LICENSE pkg/
cp js/index.d.ts pkg/index.d.ts
cp js/index.d.ts pkg/index.d.cts
cp js/store.mjs pkg/store.mjs
cp js/cli.mjs pkg/
chmod +x pkg/cli.mjs
# A Node extra: js/NAME.mjs and js/NAME.d.ts, shipped as the package's
# `./NAME` export (pkg-template/package.json) with a door and .d.cts.
node_extra() {
  cp "js/$1.mjs" "js/$1.d.ts" pkg/
  sed 's#from "\./index\.js"#from "./index.cjs"#' "js/$1.d.ts" >"pkg/$1.d.cts"
  node scripts/cjs-door.mjs "pkg/$1.mjs"
}
node_extra file-vault # the encrypted file vault
node_extra sqlite-kv  # the SQLite KV (with getByPrefix)
node_extra postgres   # the PostgreSQL KV (getByPrefix, putIf/deleteIf) and encrypted vault
cp js/json-rows.mjs pkg/ # rows as JSON text, for the SQL backends (not an entry)
# The glue's @ts-self-types names a .d.ts that is not shipped (index.d.ts
# describes the entries; the glue is internal).
sed '1{/@ts-self-types/d}' "$out/$name.js" >"pkg/web/$name.js"
cp -r "$out/${name}_bg.wasm" "$out/snippets" pkg/web/
cp js/web.js pkg/web/index.js
cp js/index.d.ts pkg/web/index.d.ts # also found by node10 resolution (no exports map)
cp js/index.d.ts pkg/web/index.d.cts
node scripts/cjs-door.mjs pkg/web/index.js
node scripts/bundle-node.mjs pkg/web pkg/node/index.mjs pkg/web/workerd.mjs
node scripts/cjs-door.mjs pkg/node/index.mjs

# Check the publish list: every file package.json names (exports, main,
# types, bin) must ship, and so must LICENSE and README.md.
npm pack --dry-run --json ./pkg 2>/dev/null | node -e '
  const [{ files }] = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const shipped = new Set(files.map((f) => f.path));
  const pkg = require("./pkg/package.json");
  const named = [];
  const walk = (v) => (typeof v === "string" ? named.push(v) : Object.values(v ?? {}).forEach(walk));
  walk([pkg.exports, pkg.main, pkg.module, pkg.types, pkg.bin]);
  const need = ["LICENSE", "README.md", ...named.map((f) => f.replace(/^\.\//, ""))];
  const missing = need.filter((f) => !shipped.has(f));
  if (missing.length) { console.error("build: npm pack would miss", missing); process.exit(1); }
  console.log(`build: npm pack ships ${files.length} files`);'

wasm="pkg/web/${name}_bg.wasm"
echo "build: $wasm $(stat -c %s "$wasm") bytes, $(gzip -9c "$wasm" | wc -c) gzipped"
echo "$hash" >"$stamp"
echo "build: done in $((SECONDS - start))s"
