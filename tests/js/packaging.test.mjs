// Checks pkg/ as users get it: the package name resolves through
// node_modules/server-credential-store-wasm -> ../pkg (made by build.sh), both
// `import` and `require` give one working class, the `./web` entry works after
// initSync, and package.json lists `types` first. Runs under node and bun.
// tests/packaging/ checks the packed tarball with bundlers, runtimes and linters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import * as esm from "server-credential-store-wasm";

const require = createRequire(import.meta.url);
const pkgDir = new URL("../../pkg/", import.meta.url);
const METHODS = ["get", "put", "delete", "has", "keys", "deleteAll", "listMetadata", "listOrphans", "reconcile"];

// The smallest vault and metadata KV the store accepts.
function mapHosts() {
  const secrets = new Map();
  const rows = new Map();
  return {
    vault: {
      async setSecret(id, value) { secrets.set(id, value); },
      async getSecret(id) { return secrets.get(id); },
      async deleteSecret(id) { secrets.delete(id); },
    },
    metadata: {
      async get(key) { return rows.get(key); },
      async put(key, value) { rows.set(key, value); },
      async delete(key) { rows.delete(key); },
      async getAll() { return rows.size ? [...rows].map(([key, value]) => ({ key, value })) : undefined; },
    },
    rows,
  };
}

async function roundTrip(ServerCredentialStore) {
  const { vault, metadata, rows } = mapHosts();
  const store = new ServerCredentialStore({ vault, metadata, userId: "u1", projectId: "p1" });
  await store.put("api-key", "s3cret", { label: "L", provider: "P" });
  assert.equal(await store.get("api-key"), "s3cret");
  assert.equal(await store.has("api-key"), true);
  assert.deepEqual(await store.keys(), ["api-key"]);
  assert.equal(rows.get("u1/p1/api-key").pending, false);
  assert.equal(await store.delete("api-key"), true);
  assert.equal(await store.get("api-key"), undefined);
}

test("import gives a working class", async () => {
  assert.equal(typeof esm.ServerCredentialStore, "function");
  assert.equal(esm.ServerCredentialStore.name, "ServerCredentialStore");
  await roundTrip(esm.ServerCredentialStore);
});

test("require gives a working class, the same one as import", async () => {
  const cjs = require("server-credential-store-wasm");
  assert.equal(cjs.ServerCredentialStore, esm.ServerCredentialStore);
  await roundTrip(cjs.ServerCredentialStore);
});

test("the public class has exactly the user-facing methods, and no free()", () => {
  const proto = esm.ServerCredentialStore.prototype;
  assert.deepEqual(Object.getOwnPropertyNames(proto).sort(), ["constructor", ...METHODS].sort());
  assert.equal("free" in proto, false);
  const { vault, metadata } = mapHosts();
  const store = new esm.ServerCredentialStore({ vault, metadata, userId: "u", projectId: "p" });
  assert.equal("free" in store, false);
  assert.deepEqual(Object.keys(store), []);
});

test("methods return promises", async () => {
  const { vault, metadata } = mapHosts();
  const store = new esm.ServerCredentialStore({ vault, metadata, userId: "u", projectId: "p" });
  for (const m of METHODS) {
    const args = m === "put" ? ["k", "v"] : ["k"];
    const r = store[m](...args);
    assert.ok(r instanceof Promise, `${m} returns a Promise`);
    await r;
  }
});

test("bad userId/projectId throw a TypeError synchronously", () => {
  const { vault, metadata } = mapHosts();
  assert.throws(
    () => new esm.ServerCredentialStore({ vault, metadata, userId: "a/b", projectId: "p" }),
    { name: "TypeError", message: "ServerCredentialStore: invalid userId/projectId" },
  );
});

test("node entry: init and initSync are harmless no-ops", async () => {
  assert.equal(esm.default, esm.init);
  assert.equal(await esm.init(), undefined);
  assert.equal(esm.initSync(), undefined);
});

test("the ./web entry: construction before init says what to call; it works after initSync with the wasm bytes", async () => {
  const web = await import("server-credential-store-wasm/web");
  assert.equal(web.default, web.init);
  const { vault, metadata } = mapHosts();
  assert.throws(() => new web.ServerCredentialStore({ vault, metadata, userId: "u", projectId: "p" }), {
    name: "Error",
    message: /`await init\(\)`/,
  });
  const bytes = readFileSync(new URL("web/server_credential_store_wasm_bg.wasm", pkgDir));
  assert.equal(web.initSync({ module: bytes }), undefined);
  await roundTrip(web.ServerCredentialStore);
});

test("package.json: every condition of every entry lists types first", () => {
  const pkg = JSON.parse(readFileSync(new URL("package.json", pkgDir), "utf8"));
  assert.equal(pkg.name, "server-credential-store-wasm");
  const root = pkg.exports["."];
  assert.deepEqual(Object.keys(root), ["workerd", "require", "default"]);
  // A condition object that maps straight to files must start with "types".
  const check = (obj, path) => {
    const entries = Object.entries(obj);
    if (entries.some(([, v]) => typeof v === "string")) {
      assert.equal(entries[0][0], "types", `${path} lists types first`);
    }
    for (const [k, v] of entries) if (typeof v === "object") check(v, `${path}.${k}`);
  };
  for (const [entry, conditions] of Object.entries(pkg.exports)) {
    if (typeof conditions === "object") check(conditions, `exports['${entry}']`);
  }
  for (const file of ["index.d.ts", "index.d.cts"]) {
    assert.ok(readFileSync(new URL(file, pkgDir), "utf8").includes("class ServerCredentialStore"));
  }
});

test("the npm pack tarball, unpacked as npm installs it, works with require and import", () => {
  const dir = mkdtempSync(join(tmpdir(), "scs-pack-"));
  const [{ filename }] = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", dir, fileURLToPath(pkgDir)], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }),
  );
  const target = join(dir, "node_modules", "server-credential-store-wasm");
  mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", join(dir, filename), "-C", target, "--strip-components=1"]);
  const script = `
    const hosts = () => { const s = new Map(), r = new Map(); return {
      vault: { async setSecret(i, v) { s.set(i, v); }, async getSecret(i) { return s.get(i); }, async deleteSecret(i) { s.delete(i); } },
      metadata: { async get(k) { return r.get(k); }, async put(k, v) { r.set(k, v); }, async delete(k) { r.delete(k); },
        async getAll() { return [...r].map(([key, value]) => ({ key, value })); } } }; };
    const check = async (C) => { const st = new C({ ...hosts(), userId: "u", projectId: "p" });
      await st.put("k", "v"); if ((await st.get("k")) !== "v") throw new Error("round trip failed"); };
    const cjs = require("server-credential-store-wasm");
    const esm = await import("server-credential-store-wasm");
    await check(cjs.ServerCredentialStore); await check(esm.ServerCredentialStore);
    console.log(cjs.ServerCredentialStore === esm.ServerCredentialStore ? "same" : "different");`;
  writeFileSync(join(dir, "check.cjs"), `(async () => { ${script} })().catch((e) => { console.error(e); process.exit(1); });`);
  assert.equal(execFileSync(process.execPath, ["check.cjs"], { cwd: dir, encoding: "utf8" }).trim(), "same");
});
